package x

import (
	"context"
	"net/http"
	"net/url"
)

// Me returns the user auth acts as (GET /2/users/me; user context only).
// `carebridge check -online` uses it to prove each official account's
// credentials, and `carebridge x-login` to name the account it authorized.
func (c *Client) Me(ctx context.Context, auth Authorizer) (User, error) {
	var out struct {
		Data User `json:"data"`
	}
	if err := c.do(ctx, "users/me", http.MethodGet, "/2/users/me", nil, nil, auth, &out); err != nil {
		return User{}, err
	}
	return out.Data, nil
}

// UserByUsername looks a user up by handle with the app's token (GET
// /2/users/by/username/:username): a cheap call that proves the bearer
// token.
func (c *Client) UserByUsername(ctx context.Context, username string) (User, error) {
	var out struct {
		Data User `json:"data"`
	}
	if err := c.do(ctx, "users/by/username", http.MethodGet, "/2/users/by/username/"+url.PathEscape(username), nil, nil, nil, &out); err != nil {
		return User{}, err
	}
	return out.Data, nil
}
