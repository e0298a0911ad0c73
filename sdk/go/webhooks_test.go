package gantral

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"
)

type webhookVector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
	Now       *int64 `json:"now"`
}

func TestWebhookVectors(t *testing.T) {
	data, err := os.ReadFile("../../specs/webhook-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Now     int64           `json:"now"`
		Valid   []webhookVector `json:"valid"`
		Invalid []webhookVector `json:"invalid"`
		Stale   []webhookVector `json:"stale"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Valid) < 3 || len(doc.Invalid) < 3 {
		t.Fatal("the shared webhook vectors are missing", err)
	}
	header := func(v webhookVector) http.Header {
		h := http.Header{}
		h.Set("Webhook-Id", v.ID)
		h.Set("Webhook-Timestamp", v.Timestamp)
		h.Set("Webhook-Signature", v.Signature)
		return h
	}
	for _, v := range doc.Valid {
		event, err := VerifyWebhook(v.Secret, header(v), []byte(v.Body), time.Unix(doc.Now, 0))
		if err != nil || event.Type != "gantral.request.resolved" {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
	for _, v := range append(doc.Invalid, doc.Stale...) {
		now := doc.Now
		if v.Now != nil {
			now = *v.Now
		}
		if _, err := VerifyWebhook(v.Secret, header(v), []byte(v.Body), time.Unix(now, 0)); !errors.Is(err, ErrWebhookInvalid) {
			t.Errorf("%s: verified (%v)", v.Name, err)
		}
	}
}
