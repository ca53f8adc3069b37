package codegen

import (
	"fmt"

	"github.com/fheir/fheir/ir"
)

// PostOp is one clear element-wise step the client applies to a
// dequantized output: y = y op K, or K op y when KFirst, where Op is one of
// "add", "sub", "mul", "div" and K holds one constant per output element.
// F32 rounds the step's result to float32, as the IR does for f32 values.
type PostOp struct {
	Op     string
	K      []float64
	KFirst bool
	F32    bool
}

// Post is the clear post-processing of one output (Concrete ML's
// post_processing): float ops that follow the output's last dequantize,
// such as the float bias the QAT lowering leaves after the last layer. The
// client applies it after decryption. F32 rounds the dequantized value to
// float32 first. The zero Post is the identity.
type Post struct {
	F32 bool
	Ops []PostOp
}

// Apply applies p to the dequantized output y in place.
func (p *Post) Apply(y []float64) {
	if p.F32 {
		for i := range y {
			y[i] = float64(float32(y[i]))
		}
	}
	for _, op := range p.Ops {
		for i, x := range y {
			a, b := x, op.K[i]
			if op.KFirst {
				a, b = b, a
			}
			switch op.Op {
			case "add":
				x = a + b
			case "sub":
				x = a - b
			case "mul":
				x = a * b
			case "div":
				x = a / b
			default:
				panic("BUG: post-processing op " + op.Op)
			}
			if op.F32 {
				x = float64(float32(x))
			}
			y[i] = x
		}
	}
}

// postOps are the float ops a post-processing chain may hold.
var postOps = map[ir.Op]bool{ir.OpAdd: true, ir.OpSub: true, ir.OpMul: true, ir.OpDiv: true, ir.OpNeg: true}

// postChain returns the chain of clear float ops from r back to the
// dequantize it starts at (r first, the dequantize last), or nil when r is
// not such a chain.
func postChain(r *ir.Value) []*ir.Value {
	var chain []*ir.Value
	for x := r; ; {
		if !x.Type.Elem.Float {
			return nil
		}
		if x.Op == ir.OpDequantize {
			return append(chain, x)
		}
		if !postOps[x.Op] {
			return nil
		}
		var d *ir.Value
		for _, a := range x.Args {
			if a.Op == ir.OpConst {
				continue
			}
			if d != nil {
				return nil // two non-constant operands
			}
			d = a
		}
		if d == nil || !ir.SameShape(d.Type.Shape, x.Type.Shape) {
			return nil
		}
		chain = append(chain, x)
		x = d
	}
}

// postOf builds the Post of a chain from postChain.
func postOf(chain []*ir.Value) (Post, error) {
	deq := chain[len(chain)-1]
	p := Post{F32: deq.Type.Elem.Bits == 32}
	for i := len(chain) - 2; i >= 0; i-- {
		x := chain[i]
		op := PostOp{Op: x.Op.String(), F32: x.Type.Elem.Bits == 32}
		if x.Op == ir.OpNeg {
			op.Op, op.K = "mul", make([]float64, x.Type.Size())
			for j := range op.K {
				op.K[j] = -1
			}
			p.Ops = append(p.Ops, op)
			continue
		}
		k := x.Args[1]
		if x.Args[0].Op == ir.OpConst {
			k, op.KFirst = x.Args[0], true
		}
		t := k.ConstValue()
		if t == nil {
			return p, fmt.Errorf("v%d: constant without data", k.ID)
		}
		idx := broadcastIdx(t.Shape, x.Type.Shape)
		op.K = make([]float64, len(idx))
		for j, s := range idx {
			op.K[j] = t.At(s)
		}
		p.Ops = append(p.Ops, op)
	}
	return p, nil
}
