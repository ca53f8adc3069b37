# fheir build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build test test-slow vet fmtcheck demo bench fuzz proto golden-update clean

all: build

build:
	$(GO) build -o bin/fheir ./cmd/fheir

# vet + gofmt check + every test (CI's command, via .ci/run).
test: vet fmtcheck
	$(GO) test -count=1 $(PKGS)

# The long acceptance runs CI skips: the digits CNN encrypted end to end on
# BGV (minutes, ~10 GB) and the N=2^16 noise-margin checks.
test-slow:
	FHEIR_SLOW=1 BGV_SLOW=1 $(GO) test -count=1 -timeout 90m -run 'TestCompileBGVCNN|TestNoiseMargin' -v ./codegen ./rt/bgv

vet:
	$(GO) vet $(PKGS)

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Rewrite the want sections of golden files after an intended change.
golden-update:
	$(GO) test ./golden -update

# The README's main command: compile the bundled model, generate keys,
# encrypt test samples, run encrypted inference, decrypt, report.
demo: build
	./bin/fheir demo

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./rt/... ./ir/...

# A short fuzzing session on each fuzz target.
FUZZ = $(GO) test -run '^$$' -fuzztime 20s -fuzzminimizetime 2s
fuzz:
	$(FUZZ) -fuzz FuzzParse ./ir
	$(FUZZ) -fuzz FuzzParse ./frontend/onnx
	$(FUZZ) -fuzz FuzzImport ./frontend/onnx
	$(FUZZ) -fuzz FuzzParse ./internal/npy
	$(FUZZ) -fuzz FuzzDefaultPipeline ./passes
	$(FUZZ) -fuzz FuzzUnmarshal ./rt
	$(FUZZ) -fuzz FuzzDecodePayload ./rt
	$(FUZZ) -fuzz FuzzServerInputs ./rt

# Regenerate the ONNX protobuf bindings (needs protoc and protoc-gen-go).
proto:
	$(GO) generate ./frontend/onnx/onnxpb

clean:
	rm -rf bin out
