package teams

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/carebridge/carebridge/bridge"
)

// Where Bot Framework tokens come from.
const (
	BotFrameworkIssuer            = "https://api.botframework.com"
	BotFrameworkOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
)

// TrustedIssuer is an issuer whose tokens the Handler accepts, and where
// its signing keys are published.
type TrustedIssuer struct {
	Issuer            string // the iss claim, exactly
	OpenIDMetadataURL string // its OpenID metadata (whose jwks_uri lists the keys)
	// RequireEndorsement refuses keys that carry no "endorsements" (Bot
	// Framework's keys all do; Entra ID's carry none). A key that carries
	// endorsements must always list the activity's channel.
	RequireEndorsement bool
}

// EntraIssuers are the issuers of the Entra ID tokens Teams may send a
// single-tenant bot of tenantID (v2 and v1 forms), with the tenant's v2
// OpenID metadata.
func EntraIssuers(tenantID string) []TrustedIssuer {
	meta := "https://login.microsoftonline.com/" + tenantID + "/v2.0/.well-known/openid-configuration"
	return []TrustedIssuer{
		{Issuer: "https://login.microsoftonline.com/" + tenantID + "/v2.0", OpenIDMetadataURL: meta},
		{Issuer: "https://sts.windows.net/" + tenantID + "/", OpenIDMetadataURL: meta},
	}
}

// Key cache timing: keys are refetched once a day (Microsoft's SDKs keep
// them five days; a day is gentler on a rotation), and on a kid the cache
// does not know — but at most once per keyRefetchFloor, so that tokens
// with made-up kids cannot make us fetch on every request.
const (
	keyMaxAge       = 24 * time.Hour
	keyRefetchFloor = time.Minute
)

// signingKey is one key of a JWKS and the channels it endorses.
type signingKey struct {
	key             *rsa.PublicKey
	endorsements    []string
	hasEndorsements bool
}

func (k signingKey) endorses(channel string) bool { return slices.Contains(k.endorsements, channel) }

// keySet caches the JWKS behind one OpenID metadata document.
type keySet struct {
	metadataURL string
	hc          *http.Client
	clock       bridge.Clock
	log         *slog.Logger

	mu      sync.Mutex
	keys    map[string]signingKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	fetches int
}

var errUnknownKey = errors.New("no signing key with this kid")

// key returns the key kid, fetching the set when it is stale or does not
// know kid (within the floor).
func (ks *keySet) key(ctx context.Context, kid string) (signingKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.clock.Now()
	k, ok := ks.keys[kid]
	stale := ks.fetched.IsZero() || now.Sub(ks.fetched) > keyMaxAge
	if ok && !stale {
		return k, nil
	}
	if ks.tried.IsZero() || now.Sub(ks.tried) >= keyRefetchFloor {
		ks.tried = now
		keys, err := ks.fetch(ctx)
		if err != nil {
			ks.log.Warn("teams signing keys not fetched", "metadata_url", ks.metadataURL, "err", err)
			if ok {
				return k, nil // a known key stays good while the fetch fails
			}
			return signingKey{}, err
		}
		ks.keys, ks.fetched = keys, now
		ks.fetches++
	}
	if k, ok := ks.keys[kid]; ok {
		return k, nil
	}
	return signingKey{}, errUnknownKey
}

func (ks *keySet) fetch(ctx context.Context) (map[string]signingKey, error) {
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := ks.getJSON(ctx, ks.metadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	if meta.JWKSURI == "" {
		return nil, errors.New("openid metadata has no jwks_uri")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]signingKey{}
	for _, raw := range set.Keys {
		var extra struct {
			KID          string    `json:"kid"`
			Endorsements *[]string `json:"endorsements"`
		}
		if err := json.Unmarshal(raw, &extra); err != nil || extra.KID == "" {
			continue
		}
		jwk, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			ks.log.Warn("teams signing key skipped", "kid", extra.KID, "err", err)
			continue
		}
		pub, ok := jwk.Key().(*rsa.PublicKey)
		if !ok {
			continue // only RSA keys can sign RS256
		}
		k := signingKey{key: pub}
		if extra.Endorsements != nil {
			k.endorsements, k.hasEndorsements = *extra.Endorsements, true
		}
		keys[extra.KID] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks lists no usable RSA key")
	}
	return keys, nil
}

func (ks *keySet) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := ks.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
