package gantral

import "testing"

// The same text as in sdk/typescript/test/client.test.ts: a token made by one SDK
// resumes in another.
func TestResumeTokenIsTheSameInEverySDK(t *testing.T) {
	const text = "eyJ2IjoxLCJpbnN0YW5jZV9pZCI6Imluc3QtMSIsInJlcXVlc3RfaWQiOiJyLTEiLCJzdGVwX2lkIjoiZGVwbG95IiwiYWN0aW9uIjoiZGVwbG95LnJ1biIsImFyZ3NfZGlnZXN0Ijoic2hhMjU2OmFiIn0"
	token := ResumeToken{V: 1, InstanceID: "inst-1", RequestID: "r-1", StepID: "deploy", Action: "deploy.run", ArgsDigest: "sha256:ab"}
	if token.Encode() != text {
		t.Fatalf("Encode = %s", token.Encode())
	}
	back, err := DecodeResumeToken(text)
	if err != nil || back != token {
		t.Fatalf("%v %v", back, err)
	}
	if _, err := DecodeResumeToken("e30"); err == nil { // {}
		t.Fatal("an empty token was accepted")
	}
}
