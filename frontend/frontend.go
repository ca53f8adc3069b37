// Package frontend is fheir's entry point from a model file to integer IR:
// it loads an ONNX model (frontend/onnx) or a .fir file, recognises
// quantization-aware graphs by their quantizers, and quantizes with
// frontend/quant (LowerQAT for QAT graphs, calibration-based PTQ for plain
// float graphs).
//
//	f, err := frontend.Import("model.onnx", frontend.Options{
//		NBits:           quant.Bits(6),
//		CalibrationPath: "inputset.npy",
//	})
package frontend

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
)

// Options controls Import.
type Options struct {
	// NBits gives post-training quantization widths; the zero value means
	// quant.Bits(8). Use quant.Bits(n) for a single n_bits value and
	// quant.ParseNBits for Concrete ML's map form. QAT graphs take their
	// widths from their quantizers and ignore NBits.
	NBits quant.NBits
	// PerChannel quantizes weights per output channel in post-training
	// quantization.
	PerChannel bool
	// Calibration is the post-training input set: one []*ir.Tensor per
	// sample, one tensor per model input (of the input's shape or size).
	Calibration [][]*ir.Tensor
	// CalibrationPath names an input set file (.npy, .npz with one array
	// per model input, or .csv), read when Calibration is empty: the
	// arrays are split into samples of each input's size.
	CalibrationPath string
	// QAT forces quantization-aware import (Concrete ML's import_qat):
	// the graph must then hold quantizers, as Brevitas exports do or as
	// plain-op fake quantization (x/s → round → [+zp] → clip → [−zp] → ·s)
	// that Import recognises.
	QAT bool
	// BatchSize fixes symbolic ONNX dimensions (the batch); 0 means 1.
	BatchSize int
	// ClearInputs names ONNX graph inputs that stay unencrypted.
	ClearInputs map[string]bool
}

// Error codes of the frontend entry point. Append only.
const (
	// UnknownFormat: a model path that is neither .onnx nor .fir.
	UnknownFormat ir.Code = "UnknownFormat"
)

// Import reads the model at path (.onnx or .fir) and returns its integer
// IR: encrypted float inputs, their quantizers, integer computation with
// univariate float regions (dequantize → element-wise ops → quantize) that
// the passes fuse into table lookups, and dequantized results, possibly
// followed by float ops on clear constants (a final bias add) that run on
// the client after decryption.
//
// A graph with quantizers (or with Options.QAT) is lowered with
// quant.LowerQAT; any other float graph is quantized after training with
// quant.PTQ, which needs a calibration set. A .fir file that is already
// integer-only is returned as parsed. Errors name the file and the node.
func Import(path string, opts Options) (*ir.Func, error) {
	f, err := load(path, opts)
	if err != nil {
		return nil, err
	}
	if err := Quantize(f, opts); err != nil {
		return nil, withFile(path, err)
	}
	return f, nil
}

// load reads a model into float (or already integer) IR.
func load(path string, opts Options) (*ir.Func, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".onnx":
		m, err := onnx.Load(path)
		if err != nil {
			return nil, err
		}
		return m.ImportFloat(onnx.ImportOptions{DefaultDim: opts.BatchSize, ClearInputs: opts.ClearInputs})
	case ".fir":
		return ir.Load(path)
	}
	return nil, &ir.Error{File: path, Code: UnknownFormat, Msg: "unknown model format: want .onnx or .fir"}
}

// Quantize turns a float IR function (as frontend/onnx imports it) into
// integer IR in place, as Import does after loading.
func Quantize(f *ir.Func, opts Options) error {
	if integerOnly(f) {
		return nil
	}
	if opts.QAT && !quant.HasQuantizers(f) {
		quant.RecognizeFakeQuant(f)
		if !quant.HasQuantizers(f) {
			return &ir.Error{Code: quant.NoQuantizer, Msg: "QAT import forced, but the graph holds no quantizers (QONNX Quant, QuantizeLinear/DequantizeLinear, or plain-op fake quantization)"}
		}
	}
	if quant.HasQuantizers(f) {
		return quant.LowerQAT(f)
	}
	calib := opts.Calibration
	if len(calib) == 0 && opts.CalibrationPath != "" {
		var err error
		if calib, err = LoadCalibration(opts.CalibrationPath, f); err != nil {
			return err
		}
	}
	if len(calib) == 0 {
		return &ir.Error{Code: quant.BadCalibration, Msg: "the model holds no quantizers, so it is quantized after training, which needs a calibration input set (Options.Calibration or CalibrationPath; --inputset)"}
	}
	return quant.PTQ(f, quant.Config{NBits: opts.NBits, PerChannel: opts.PerChannel}, calib)
}

// LoadCalibration reads an input set for f: a .npy or .csv file for a
// single-input model, or an .npz with one array per model input (in file
// order). Each array is split into samples of its input's size (an array
// of shape [N, ...] gives N samples).
func LoadCalibration(path string, f *ir.Func) ([][]*ir.Tensor, error) {
	arrays, err := npy.LoadSet(path)
	if err != nil {
		return nil, err
	}
	if len(arrays) != len(f.Params) {
		return nil, &ir.Error{File: path, Code: quant.BadCalibration, Msg: fmt.Sprintf("input set has %d arrays, the model has %d inputs", len(arrays), len(f.Params))}
	}
	n := -1
	for i, a := range arrays {
		p := f.Params[i]
		size := p.Type.Size()
		if size == 0 || a.Len() == 0 || a.Len()%size != 0 {
			return nil, &ir.Error{File: path, Loc: p.Loc, Code: quant.BadCalibration, Msg: fmt.Sprintf("array %d has %d values, not a whole number of samples of shape %v", i, a.Len(), p.Type.Shape)}
		}
		if k := a.Len() / size; n < 0 {
			n = k
		} else if k != n {
			return nil, &ir.Error{File: path, Code: quant.BadCalibration, Msg: fmt.Sprintf("array %d holds %d samples, array 0 holds %d", i, k, n)}
		}
	}
	samples := make([][]*ir.Tensor, n)
	for s := range samples {
		samples[s] = make([]*ir.Tensor, len(arrays))
		for i, a := range arrays {
			p := f.Params[i]
			size := p.Type.Size()
			data := append([]float64(nil), a.Floats()[s*size:(s+1)*size]...)
			samples[s][i] = ir.NewFloats(p.Type.Shape, data)
		}
	}
	return samples, nil
}

// integerOnly reports whether f has no float values at all (an already
// lowered .fir file).
func integerOnly(f *ir.Func) bool {
	for _, p := range f.Params {
		if p.Type.Elem.Float {
			return false
		}
	}
	for _, v := range f.Body {
		if v.Type.Elem.Float {
			return false
		}
	}
	return true
}

// withFile sets the file name of errors that have none.
func withFile(path string, err error) error {
	var e *ir.Error
	var l ir.ErrorList
	switch {
	case errors.As(err, &l):
		for _, x := range l {
			if x.File == "" {
				x.File = path
			}
		}
	case errors.As(err, &e):
		if e.File == "" {
			e.File = path
		}
	}
	return err
}
