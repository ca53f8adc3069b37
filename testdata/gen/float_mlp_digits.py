"""Float MLP on the 8x8 digits for post-training quantization.

Linear(64,32) -> ReLU -> Linear(32,10), exported twice:
  - torch.onnx.export's TorchScript exporter at opset 14 with batch 1;
  - the dynamo exporter (torch.export + onnxscript, the default from torch 2.9
    on) at opset 18 with a symbolic batch axis "batch".
"""

import torch
import torch.nn as nn

import common

NAME = "float_mlp_digits"


def main():
    common.seed_everything(0)
    xtr, xte, ytr, yte = common.digits(image=False)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    common.train(model, xtr, ytr, epochs=20, lr=0.01)
    model.eval()
    example = torch.from_numpy(xte[:1])
    ts = f"{NAME}.torch.op14.onnx"
    torch.onnx.export(model, (example,), common.out_path(ts), opset_version=14, dynamo=False,
                      input_names=["x"], output_names=["logits"])
    dyn = f"{NAME}.dynamo.op18.onnx"
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(model, (example,), common.out_path(dyn), opset_version=18, dynamo=True,
                      input_names=["x"], output_names=["logits"],
                      dynamic_shapes={"input": {0: batch}}, external_data=False, verbose=False)
    common.strip_stack_traces(common.out_path(dyn))
    common.save_case(
        NAME, model, xtr, xte, ytr, yte, [ts, dyn],
        {
            "dataset": "sklearn digits 8x8 flattened to 64, pixels/16",
            "architecture": "Linear(64,32) -> ReLU -> Linear(32,10)",
            "kind": "float",
        },
    )


if __name__ == "__main__":
    main()
