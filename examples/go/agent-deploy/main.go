// Command agent-deploy is an example agent on the Gantral Go SDK: plan a release, then
// deploy it once a tech lead approves.
//
// Start the local stack (`make run`), then from examples/go run the agent with one of:
//
//	TOKEN=$(gantral identity mint --user my-agent --agent --team payments)
//	go run ./agent-deploy --token "$TOKEN" --service-version 2.4.1
//
//	export GANTRAL_AGENT_CLIENT_SECRET=<the demo-agent secret>   # printed by `gantral dev`
//	go run ./agent-deploy --client-id demo-agent
//
// Gantral holds the deploy for a TECH_LEAD; approve it (or override the version) with the
// ids the agent prints, e.g. with curl as in examples/agent_deploy.py. The deploy then
// runs with exactly the approved arguments, or the override's edit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	gantral "github.com/gantral/gantral/sdk/go"
)

type options struct {
	apiURL, workflow, team, service, version string
	replicas                                 int
	wait                                     time.Duration
	token, tokenFile, clientID, tokenURL     string
	clientSecretEnv                          string
}

func parse(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("agent-deploy", flag.ContinueOnError)
	fs.StringVar(&o.apiURL, "api-url", "http://127.0.0.1:8000", "Gantral API root")
	fs.StringVar(&o.workflow, "workflow", "deploy-service", "workflow template id")
	fs.StringVar(&o.team, "team", "payments", "owning team id")
	fs.StringVar(&o.service, "service", "billing", "service to deploy")
	fs.StringVar(&o.version, "service-version", "2.4.1", "version to deploy")
	fs.IntVar(&o.replicas, "replicas", 3, "replicas")
	fs.DurationVar(&o.wait, "wait", 15*time.Minute, "how long to wait for a human decision")
	fs.StringVar(&o.token, "token", "", "a bearer token (visible in ps; prefer --token-file)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding a bearer token")
	fs.StringVar(&o.clientID, "client-id", "", "OAuth client id of this agent (client credentials)")
	fs.StringVar(&o.tokenURL, "token-url", "http://127.0.0.1:8600/token", "OAuth token endpoint for --client-id")
	fs.StringVar(&o.clientSecretEnv, "client-secret-env", "GANTRAL_AGENT_CLIENT_SECRET", "environment variable holding the client secret")
	return o, fs.Parse(args)
}

func (o *options) auth() (gantral.Auth, error) {
	switch {
	case o.token != "":
		return gantral.StaticToken(o.token), nil
	case o.tokenFile != "":
		data, err := os.ReadFile(o.tokenFile)
		if err != nil || strings.TrimSpace(string(data)) == "" {
			return nil, fmt.Errorf("cannot read a token from %s", o.tokenFile)
		}
		return gantral.StaticToken(strings.TrimSpace(string(data))), nil
	case o.clientID != "":
		// The secret comes from the environment, never the command line (ps shows it).
		secret := os.Getenv(o.clientSecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("--client-id needs its secret in $%s", o.clientSecretEnv)
		}
		return gantral.NewClientCredentials(o.tokenURL, o.clientID, secret), nil
	}
	return nil, errors.New("no credentials: give --token, --token-file or --client-id")
}

// rollOut stands in for the real deployment: whatever runs here is what the grant covers.
func rollOut(args map[string]any) string {
	log.Printf("deploying %v %v to %v replicas", args["service"], args["version"], args["replicas"])
	time.Sleep(500 * time.Millisecond)
	return fmt.Sprintf("https://%v.example.internal/releases/%v", args["service"], args["version"])
}

func run(ctx context.Context, o *options, auth gantral.Auth) error {
	client := gantral.New(o.apiURL, auth)
	wanted := map[string]any{"service": o.service, "version": o.version, "replicas": o.replicas}
	inst, err := client.StartInstance(ctx, gantral.StartInstanceRequest{WorkflowID: o.workflow, OwningTeamID: o.team, TriggerContext: wanted})
	if err != nil {
		return err
	}
	iid := inst.InstanceID
	log.Printf("instance %s (%s)", iid, inst.State)
	err = client.GovernedStep(ctx, iid, "plan", gantral.StepOptions{Arguments: wanted}, func(_ context.Context, s *gantral.Step) error {
		s.Detail["steps"] = []string{"drain", "roll", "verify"}
		return nil
	})
	if err != nil {
		return err
	}
	started := time.Now()
	err = client.GovernedStep(ctx, iid, "deploy", gantral.StepOptions{
		Action: "deploy.run", Arguments: wanted, Wait: o.wait,
		Context: map[string]any{"env": "production", "reason": "scheduled release"},
		OnPending: func(r *gantral.HumanRequest) {
			fmt.Printf("waiting for %s to decide on request %s (%s): %v\n",
				strings.Join(r.RequiredApprovers, ", "), r.RequestID, r.Materiality, r.Arguments)
		},
	}, func(_ context.Context, step *gantral.Step) error {
		if step.Overridden() {
			log.Printf("a human changed the arguments: %v", step.Request.ContextDelta)
		}
		step.Detail["release_url"] = rollOut(step.Arguments)
		step.Cost = &gantral.Cost{WallTimeSeconds: time.Since(started).Seconds()}
		return nil
	})
	var refused *gantral.StepRefused
	if errors.As(err, &refused) {
		if refused.Reason == gantral.ReasonDecisionTimeout {
			_, _ = client.Cancel(ctx, iid, "no decision in time")
		}
		return fmt.Errorf("deploy refused (%s): %s", refused.Reason, refused.Message)
	}
	if err != nil {
		return err
	}
	done, err := client.Complete(ctx, iid, "")
	if err != nil {
		return err
	}
	log.Printf("instance %s %s", iid, done.State)
	return nil
}

func main() {
	o, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}
	auth, err := o.auth()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent-deploy:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o, auth); err != nil {
		fmt.Fprintln(os.Stderr, "agent-deploy:", err)
		os.Exit(1)
	}
}
