module github.com/gantral/gantral/examples/go

go 1.19

require github.com/gantral/gantral/sdk/go v0.0.0

// The SDK from this repository: nothing is downloaded.
replace github.com/gantral/gantral/sdk/go => ../../sdk/go
