module github.com/gantral/gantral/sdk/go

go 1.19
