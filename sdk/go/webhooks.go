package gantral

// Verifying Gantral's callbacks (Standard Webhooks): the HMAC-SHA256 of
// "{webhook-id}.{webhook-timestamp}.{body}" under the `whsec_` secret, as one of the
// space-separated `v1,<base64>` entries of webhook-signature, with the timestamp within
// WebhookTolerance of now. Known answers: specs/webhook-vectors.json.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookTolerance is how far a delivery's timestamp may be from now.
const WebhookTolerance = 5 * time.Minute

// ErrWebhookInvalid: the delivery is not genuine (or stale); do not act on it.
var ErrWebhookInvalid = errors.New("webhook_invalid")

// CallbackEvent is what a callback tells: a request resolved. Nothing secret; resume
// the step with your ResumeToken.
type CallbackEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		InstanceID string        `json:"instance_id"`
		RequestID  string        `json:"request_id"`
		Status     RequestStatus `json:"status"`
		Event      string        `json:"event"`
		DecidedBy  string        `json:"decided_by"`
	} `json:"data"`
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrWebhookInvalid, msg) }

// VerifyWebhook checks a delivery (its raw body, exactly as received) at time now
// (time.Now() in production) and returns its event; errors match ErrWebhookInvalid.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) (*CallbackEvent, error) {
	id, timestamp, signatures := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || timestamp == "" || signatures == "" {
		return nil, invalid("missing webhook headers")
	}
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || seconds < 0 {
		return nil, invalid("invalid webhook timestamp")
	}
	at := time.Unix(seconds, 0)
	if at.Before(now.Add(-WebhookTolerance)) {
		return nil, invalid("webhook timestamp too old")
	}
	if at.After(now.Add(WebhookTolerance)) {
		return nil, invalid("webhook timestamp too new")
	}
	key, err := base64.StdEncoding.DecodeString(padBase64(strings.TrimPrefix(secret, "whsec_")))
	if err != nil || len(key) == 0 {
		return nil, invalid("unusable webhook secret")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	expected := mac.Sum(nil)
	for _, entry := range strings.Split(signatures, " ") {
		version, signature, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		given, err := base64.StdEncoding.DecodeString(signature)
		if err == nil && hmac.Equal(given, expected) {
			var event CallbackEvent
			if err := json.Unmarshal(body, &event); err != nil {
				return nil, invalid("the body is not JSON")
			}
			return &event, nil
		}
	}
	return nil, invalid("no matching webhook signature")
}

func padBase64(s string) string {
	if m := len(s) % 4; m != 0 {
		s += strings.Repeat("=", 4-m)
	}
	return s
}
