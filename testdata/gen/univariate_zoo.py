"""Float model that applies every univariate op fheir supports, on wine.

z = Linear(13,4)(x) feeds one branch per op; the branches are concatenated
(BRANCHES x 4 features) and Linear(.,3) gives the logits. Every branch
depends on the single tensor z, so after quantization each one is a
univariate function of z's integers (a table lookup).

Exported by the TorchScript exporter at opset 14, where torch decomposes GELU,
Mish, HardSwish, ... into primitive ops, and at opset 20, where it emits the
Gelu (both approximations), Mish, HardSwish... ops of newer opsets instead,
and by the dynamo exporter (torch.export + onnxscript) at opset 18.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

NAME = "univariate_zoo"
OPSETS = (14, 20)
HIDDEN = 4

# name -> function of z (the Linear output). Modules with parameters (PReLU)
# are built in UnivariateZoo.__init__.
BRANCHES = {
    "celu": nn.CELU(alpha=0.7),
    "elu": nn.ELU(alpha=0.9),
    "gelu_erf": nn.GELU(),
    "gelu_tanh": nn.GELU(approximate="tanh"),
    "hardshrink": nn.Hardshrink(0.4),
    "softshrink": nn.Softshrink(0.3),
    "hardsigmoid": nn.Hardsigmoid(),
    "hardswish": nn.Hardswish(),
    "hardtanh": nn.Hardtanh(-0.8, 1.2),
    "leakyrelu": nn.LeakyReLU(0.05),
    "logsigmoid": nn.LogSigmoid(),
    "mish": nn.Mish(),
    "prelu": None,  # nn.PReLU(HIDDEN), per-channel learned slopes
    "relu6": nn.ReLU6(),
    "relu": nn.ReLU(),
    "selu": nn.SELU(),
    "sigmoid": nn.Sigmoid(),
    "silu": nn.SiLU(),
    "softplus": nn.Softplus(beta=1.5, threshold=10.0),
    "softsign": nn.Softsign(),
    "tanh": nn.Tanh(),
    "tanhshrink": nn.Tanhshrink(),
    # nn.Threshold(0.2, -0.5) has the same semantics, but torch's TorchScript
    # exporter refuses a non-zero threshold; torch.where exports as
    # Greater -> Where.
    "threshold": lambda z: torch.where(z > 0.2, z, torch.tensor(-0.5)),
    "abs": torch.abs,
    "neg": torch.neg,
    "sign": torch.sign,
    "clamp": lambda z: torch.clamp(z, -0.5, 1.5),
    "round": torch.round,
    "floor": torch.floor,
    "exp": lambda z: torch.exp(0.5 * z),
    "log": lambda z: torch.log(torch.abs(z) + 0.25),
    "pow2": lambda z: torch.pow(z, 2),
    "pow_frac": lambda z: torch.pow(torch.abs(z) + 0.1, 1.5),
    "square_mul": lambda z: z * z,
    "div": lambda z: z / 3.0,
    "erf": torch.erf,
}


class UnivariateZoo(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc_in = nn.Linear(n_in, HIDDEN)
        self.prelu = nn.PReLU(HIDDEN, init=0.2)
        self.acts = nn.ModuleDict({k: v for k, v in BRANCHES.items() if isinstance(v, nn.Module)})
        self.fc_out = nn.Linear(HIDDEN * len(BRANCHES), n_out)

    def forward(self, x):
        z = self.fc_in(x)
        outs = []
        for name, fn in BRANCHES.items():
            if name == "prelu":
                outs.append(self.prelu(z))
            elif isinstance(fn, nn.Module):
                outs.append(self.acts[name](z))
            else:
                outs.append(fn(z))
        return self.fc_out(torch.cat(outs, dim=1))


def main():
    common.seed_everything(0)
    xtr, xte, ytr, yte = common.tabular("wine")
    model = UnivariateZoo(xtr.shape[1], 3)
    common.train(model, xtr, ytr, epochs=30, lr=0.005, batch=16)
    model.eval()
    example = torch.from_numpy(xte[:1])
    paths = []
    for opset in OPSETS:
        p = f"{NAME}.torch.op{opset}.onnx"
        torch.onnx.export(model, (example,), common.out_path(p), opset_version=opset,
                          dynamo=False, input_names=["x"], output_names=["logits"])
        paths.append(p)
    p = f"{NAME}.dynamo.op18.onnx"
    torch.onnx.export(model, (example,), common.out_path(p), opset_version=18, dynamo=True,
                      input_names=["x"], output_names=["logits"], external_data=False)
    common.strip_stack_traces(common.out_path(p))
    paths.append(p)
    common.save_case(
        NAME, model, xtr, xte, ytr, yte, paths,
        {
            "dataset": "sklearn wine, 13 standardized features, 3 classes",
            "architecture": f"Linear(13,{HIDDEN}) -> {len(BRANCHES)} univariate branches ("
            + ", ".join(BRANCHES) + f") -> Concat -> Linear({HIDDEN * len(BRANCHES)},3)",
            "branches": list(BRANCHES),
            "kind": "float",
        },
    )


if __name__ == "__main__":
    main()
