package onnx

import (
	"fmt"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// maxInlineDepth bounds nested inlining (a function calling itself).
const maxInlineDepth = 32

// inlineNodes parses and lowers the nodes of an inlined body.
func (b *importer) inlineNodes(nodes []*onnxpb.NodeProto) error {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxInlineDepth {
		return errorf(UnsupportedOp, "unsupported op: functions or branches nested more than %d deep", maxInlineDepth)
	}
	for i, np := range nodes {
		var errs ErrorList
		n := parseNode(b.m.File, i, np, b.dir, &errs)
		if len(errs) > 0 {
			return errs[0]
		}
		if err := b.lowerOne(n); err != nil {
			return err
		}
	}
	return nil
}

// lowerIf inlines the branch an If node's constant condition selects
// (torch emits such Ifs for checks on static shapes). A condition known
// only at run time is data-dependent control flow, which FHE circuits
// cannot have.
func lowerIf(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	c := constOf(in[0])
	if c == nil || c.Len() != 1 {
		return nil, errorf(NonConstantInput, "condition %q must be a constant: data-dependent control flow is not supported", n.Input(0))
	}
	branch := "else_branch"
	if c.At(0) != 0 {
		branch = "then_branch"
	}
	a := n.Attrs[branch]
	if a == nil || a.Kind != AttrGraph || a.Graph == nil {
		return nil, errorf(BadNode, "no %s", branch)
	}
	g := a.Graph
	if len(g.Output) != len(n.Outputs) {
		return nil, errorf(BadNode, "%s has %d outputs, the node %d", branch, len(g.Output), len(n.Outputs))
	}
	for _, tp := range g.Initializer {
		t, err := decodeTensor(tp, b.dir)
		if err != nil {
			return nil, errorf(MalformedTensor, "%s initializer %q: %v", branch, tp.Name, err)
		}
		cv, err := b.constTensor(t)
		if err != nil {
			return nil, err
		}
		b.vals[tp.Name] = cv
	}
	if err := b.inlineNodes(g.Node); err != nil {
		return nil, err
	}
	outs := make([]val, len(g.Output))
	for i, o := range g.Output {
		v, err := b.value(o.Name)
		if err != nil {
			return nil, err
		}
		outs[i] = v
	}
	return outs, nil
}

// inlineFunction lowers a call of a model-local function: its body with
// inputs bound to the call's, internal names made unique, and attribute
// references resolved from the call (or the function's defaults).
func (b *importer) inlineFunction(n *Node, fn *onnxpb.FunctionProto) ([]val, error) {
	b.inlined++
	prefix := fmt.Sprintf("%s/%s#%d/", nodeLoc(n), fn.Name, b.inlined)
	bind := map[string]string{}
	for i, name := range fn.Input {
		bind[name] = n.Input(i)
	}
	rename := func(s string) string {
		if s == "" {
			return ""
		}
		if t, ok := bind[s]; ok {
			return t
		}
		return prefix + s
	}
	callAttrs := map[string]*onnxpb.AttributeProto{}
	if n.proto != nil {
		for _, a := range n.proto.Attribute {
			callAttrs[a.Name] = a
		}
	}
	defaults := map[string]*onnxpb.AttributeProto{}
	for _, a := range fn.AttributeProto {
		defaults[a.Name] = a
	}
	body := make([]*onnxpb.NodeProto, len(fn.Node))
	for i, np := range fn.Node {
		c := proto.Clone(np).(*onnxpb.NodeProto)
		for k := range c.Input {
			c.Input[k] = rename(c.Input[k])
		}
		for k := range c.Output {
			c.Output[k] = rename(c.Output[k])
		}
		var attrs []*onnxpb.AttributeProto
		for _, a := range c.Attribute {
			if a.RefAttrName == "" {
				attrs = append(attrs, a)
				continue
			}
			src := callAttrs[a.RefAttrName]
			if src == nil {
				src = defaults[a.RefAttrName]
			}
			if src == nil {
				continue // unset: the op's default applies
			}
			cp := proto.Clone(src).(*onnxpb.AttributeProto)
			cp.Name = a.Name
			attrs = append(attrs, cp)
		}
		c.Attribute = attrs
		if c.Name == "" {
			c.Name = fmt.Sprintf("%s%s_%d", prefix, c.OpType, i)
		} else {
			c.Name = prefix + c.Name
		}
		body[i] = c
	}
	if err := b.inlineNodes(body); err != nil {
		return nil, err
	}
	outs := make([]val, len(n.Outputs))
	for i, name := range fn.Output {
		if i >= len(n.Outputs) || n.Outputs[i] == "" {
			continue
		}
		v, err := b.value(rename(name))
		if err != nil {
			return nil, err
		}
		outs[i] = v
	}
	return outs, nil
}
