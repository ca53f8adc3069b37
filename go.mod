module github.com/fheir/fheir

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/tuneinsight/lattigo/v5 v5.0.7 // indirect
	golang.org/x/tools v0.52.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
