package teamsfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// BotFrameworkIssuer is the issuer of the Bot Connector's tokens.
const BotFrameworkIssuer = "https://api.botframework.com"

// signingKey is one RSA key of a JWKS, with the channels it endorses.
type signingKey struct {
	kid          string
	priv         *rsa.PrivateKey
	endorsements []string
	published    bool // listed in the JWKS
}

// keyBits: 2048 as Microsoft's keys. Generating one costs ~50 ms; the
// fake makes two at start (Bot Framework and Entra) and more on rotation.
const keyBits = 2048

// keyPool holds the RSA keys made so far in this process. The n-th key a
// fake makes is the pool's n-th: keys differ within a fake, and a test
// binary that starts many fakes generates only as many keys as one of
// them needs.
var keyPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

func pooledKey(n int) *rsa.PrivateKey {
	keyPool.Lock()
	defer keyPool.Unlock()
	for len(keyPool.keys) <= n {
		priv, err := rsa.GenerateKey(rand.Reader, keyBits)
		if err != nil {
			panic(fmt.Sprintf("teamsfake: generate RSA key: %v", err))
		}
		keyPool.keys = append(keyPool.keys, priv)
	}
	return keyPool.keys[n]
}

// newKey makes the fake's next key.
func (s *Server) newKey(kid string, endorsements []string) *signingKey {
	s.mu.Lock()
	n := s.keyCount
	s.keyCount++
	s.mu.Unlock()
	return &signingKey{kid: kid, priv: pooledKey(n), endorsements: endorsements, published: true}
}

// jwkJSON is the key as Microsoft's JWKS lists it: an RSA public JWK plus
// "endorsements".
func (k *signingKey) jwkJSON() (map[string]any, error) {
	j, err := jwkset.NewJWKFromKey(&k.priv.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(j.Marshal())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if k.endorsements != nil {
		m["endorsements"] = k.endorsements
	}
	return m, nil
}

// serveOpenID serves the Bot Framework OpenID metadata document.
func (s *Server) serveOpenID(w http.ResponseWriter, r *http.Request) {
	s.count("openid")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                BotFrameworkIssuer,
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              s.URL() + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

// serveEntraOpenID serves the tenant's Entra ID v2 OpenID metadata.
func (s *Server) serveEntraOpenID(w http.ResponseWriter, r *http.Request) {
	s.count("openid_entra")
	if r.PathValue("tenant") != s.tenantID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_tenant"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.EntraIssuer(),
		"jwks_uri":                              s.URL() + "/" + s.tenantID + "/discovery/v2.0/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (s *Server) serveKeys(entra bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		keys := s.bfKeys
		if entra {
			keys = s.entraKeys
		}
		var out []map[string]any
		for _, k := range keys {
			if !k.published {
				continue
			}
			m, err := k.jwkJSON()
			if err != nil {
				s.mu.Unlock()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out = append(out, m)
		}
		if entra {
			s.counts["jwks_entra"]++
		} else {
			s.counts["jwks"]++
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	}
}

// RotateKeys adds a new Bot Framework signing key, endorsed for msteams,
// and signs with it from now on; the old keys stay listed unless drop.
// It returns the new key id.
func (s *Server) RotateKeys(drop bool) string {
	k := s.newKey(fmt.Sprintf("bf-key-%d", s.nextSeq()), []string{"msteams", "skype", "webchat"})
	s.mu.Lock()
	defer s.mu.Unlock()
	if drop {
		for _, old := range s.bfKeys {
			old.published = false
		}
	}
	s.bfKeys = append(s.bfKeys, k)
	s.current = k
	return k.kid
}

// AddKey lists a new Bot Framework key with the given endorsements (nil:
// no endorsements member) without signing with it by default; sign with it
// through DeliveryOptions.KID. It returns the key id.
func (s *Server) AddKey(endorsements []string) string {
	k := s.newKey(fmt.Sprintf("bf-extra-%d", s.nextSeq()), endorsements)
	s.mu.Lock()
	s.bfKeys = append(s.bfKeys, k)
	s.mu.Unlock()
	return k.kid
}

// EntraIssuer is the issuer of Entra ID v2 tokens for the fake's tenant.
func (s *Server) EntraIssuer() string {
	return "https://login.microsoftonline.com/" + s.tenantID + "/v2.0"
}

// EntraOpenIDMetadataURL is the tenant's v2 OpenID metadata on the fake.
func (s *Server) EntraOpenIDMetadataURL() string {
	return s.URL() + "/" + s.tenantID + "/v2.0/.well-known/openid-configuration"
}

// signToken makes the Authorization token for an activity to serviceURL.
func (s *Server) signToken(serviceURL string, o DeliveryOptions) (string, error) {
	now := s.clock.Now()
	s.mu.Lock()
	key := s.current
	issuer := BotFrameworkIssuer
	if o.Entra {
		key = s.entraKeys[0]
		issuer = s.EntraIssuer()
	}
	if o.KID != "" {
		key = nil
		for _, k := range append(append([]*signingKey{}, s.bfKeys...), s.entraKeys...) {
			if k.kid == o.KID {
				key = k
			}
		}
	}
	s.mu.Unlock()
	if o.UnknownKey {
		key = s.newKey("unknown-"+fmt.Sprint(s.nextSeq()), []string{"msteams"})
		key.published = false
	}
	if key == nil {
		return "", fmt.Errorf("teamsfake: no key %q", o.KID)
	}
	if o.Issuer != "" {
		issuer = o.Issuer
	}
	aud := s.appID
	if o.Audience != "" {
		aud = o.Audience
	}
	if o.ServiceURL != "" {
		serviceURL = o.ServiceURL
	}
	issued := now.Add(o.IssuedAt)
	life := time.Hour
	claims := jwt.MapClaims{
		"iss": issuer, "aud": aud, "serviceurl": serviceURL,
		"nbf": issued.Add(-5 * time.Minute).Unix(), "exp": issued.Add(life).Unix(), "iat": issued.Unix(),
	}
	if o.Entra {
		claims["azp"] = "d6d49420-f39b-4df7-a1dc-d59a935871db" // Bot Framework's app id
		claims["tid"] = s.tenantID
		claims["ver"] = "2.0"
	}
	switch {
	case o.Alg == "none":
		t := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
		t.Header["kid"] = key.kid
		return t.SignedString(jwt.UnsafeAllowNoneSignatureType)
	case o.Alg == "HS256":
		// The classic confusion attack: HMAC keyed with the public key.
		pub, err := x509.MarshalPKIXPublicKey(&key.priv.PublicKey)
		if err != nil {
			return "", err
		}
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		t.Header["kid"] = key.kid
		return t.SignedString(pub)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = key.kid
	t.Header["x5t"] = key.kid
	return t.SignedString(key.priv)
}

// The token endpoint: client credentials for the fake's tenant.

type issuedToken struct {
	expires  time.Time
	audience string // the resource: botFrameworkResource or graphResource
}

// The resources the token endpoint issues tokens for: the scope without
// /.default, which is what the token's aud claim names.
const (
	botFrameworkResource = "https://api.botframework.com"
	graphResource        = "https://graph.microsoft.com"
)

// TokenLifetime is how long the fake's access tokens last (Entra ID's
// are 60 to 90 minutes).
const TokenLifetime = time.Hour

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if r.PathValue("tenant") != s.tenantID {
		// What a single-tenant bot gets from the botframework.com tenant.
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":             "unauthorized_client",
			"error_description": "AADSTS700016: Application with identifier '" + r.FormValue("client_id") + "' was not found in the directory '" + r.PathValue("tenant") + "'.",
		})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "error_description": "AADSTS70003: grant_type must be client_credentials."})
		return
	}
	aud, ok := strings.CutSuffix(r.PostForm.Get("scope"), "/.default")
	if !ok || (aud != botFrameworkResource && aud != graphResource) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for the input parameter 'scope' is not valid."})
		return
	}
	if r.PostForm.Get("client_id") != s.appID {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory."})
		return
	}
	if r.PostForm.Get("client_secret") != s.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
		return
	}
	tok := "eyJ0eXAiOiJKV1QifQ.fake." + randomHex(24)
	s.mu.Lock()
	s.tokens[tok] = issuedToken{expires: s.clock.Now().Add(TokenLifetime), audience: aud}
	s.tokenCount++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": int(TokenLifetime / time.Second), "ext_expires_in": int(TokenLifetime / time.Second),
		"access_token": tok,
	})
}

// TokensIssued counts the access tokens the token endpoint gave out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCount
}

// ExpireTokens makes every token issued so far expired, as if an hour had
// passed for them (the connector answers 401 to them).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		s.tokens[k] = issuedToken{expires: s.clock.Now().Add(-time.Second), audience: s.tokens[k].audience}
	}
}

// authorized checks the connector call's bearer token: one for the Bot
// Framework, unexpired (a Graph token is refused, as the connector does).
func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	return ok && t.audience == botFrameworkResource && s.clock.Now().Before(t.expires)
}
