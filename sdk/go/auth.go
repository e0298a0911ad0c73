package gantral

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Auth supplies the bearer token of every call.
type Auth interface {
	// Token returns the token to send; refresh asks for a new one (the API answered 401).
	Token(ctx context.Context, refresh bool) (string, error)
	// Refreshable reports whether asking again after a 401 can help.
	Refreshable() bool
}

// BearerToken sends a fixed token, or the one a provider returns before each call
// (the provider should cache and refresh its token itself).
type BearerToken struct {
	Static   string
	Provider func(ctx context.Context) (string, error)
}

// StaticToken is a BearerToken for a token obtained elsewhere; it is never refreshed.
func StaticToken(token string) *BearerToken { return &BearerToken{Static: token} }

func (b *BearerToken) Token(ctx context.Context, _ bool) (string, error) {
	if b.Provider != nil {
		return b.Provider(ctx)
	}
	return b.Static, nil
}

func (b *BearerToken) Refreshable() bool { return false }

// ClientCredentials is an agent's OAuth client-credentials grant (client_secret_basic).
// The token is reused until Leeway before it expires, and fetched anew once when the
// API answers 401 (revoked, or the clocks disagree).
type ClientCredentials struct {
	TokenURL     string
	ClientID     string
	clientSecret string
	Scope        string
	Audience     string
	Leeway       time.Duration // default 30 s
	HTTP         *http.Client  // default http.DefaultClient

	mu        sync.Mutex
	token     string
	expiresAt time.Time
}

// NewClientCredentials keeps the secret unexported, so printing the value never shows it.
func NewClientCredentials(tokenURL, clientID, clientSecret string) *ClientCredentials {
	return &ClientCredentials{TokenURL: tokenURL, ClientID: clientID, clientSecret: clientSecret, Leeway: 30 * time.Second}
}

// String never shows the secret.
func (c *ClientCredentials) String() string {
	return fmt.Sprintf("ClientCredentials(%s, %s)", c.TokenURL, c.ClientID)
}

func (c *ClientCredentials) Refreshable() bool { return true }

func (c *ClientCredentials) Token(ctx context.Context, refresh bool) (string, error) {
	c.mu.Lock() // one fetch at a time; concurrent callers share its token
	defer c.mu.Unlock()
	if !refresh && c.token != "" && time.Now().Before(c.expiresAt) {
		return c.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.Scope != "" {
		form.Set("scope", c.Scope)
	}
	if c.Audience != "" {
		form.Set("audience", c.Audience)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
	basic := url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.clientSecret)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", &TransportError{Op: "POST " + c.TokenURL, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", &TransportError{Op: "POST " + c.TokenURL, Err: err}
	}
	if resp.StatusCode >= 300 {
		return "", errorFromResponse(resp.StatusCode, body)
	}
	var answer struct {
		AccessToken string   `json:"access_token"`
		ExpiresIn   *float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.AccessToken == "" {
		return "", fmt.Errorf("the token endpoint answered without an access_token")
	}
	expiresIn := 300.0
	if answer.ExpiresIn != nil {
		expiresIn = *answer.ExpiresIn
	}
	c.token = answer.AccessToken
	c.expiresAt = time.Now().Add(time.Duration(expiresIn*float64(time.Second)) - c.Leeway)
	return c.token, nil
}
