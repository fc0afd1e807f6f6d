using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>The small models the equivalence runs train, each with its loss.</summary>
public static class Models
{
    public static (nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss) Create(string kind, long seed = 1)
    {
        torch.manual_seed(seed);
        return kind switch
        {
            "cnn" => (nn.Sequential(
                    ("conv", nn.Conv2d(1, 4, 3)),
                    ("relu", nn.ReLU()),
                    ("flatten", nn.Flatten()),
                    ("fc", nn.Linear(4 * 6 * 6, 3))),
                (output, target) => nn.functional.cross_entropy(output, target)),
            "wide" => (nn.Sequential(
                    ("fc1", nn.Linear(8, 1024)),
                    ("relu1", nn.ReLU()),
                    ("fc2", nn.Linear(1024, 1024)),
                    ("relu2", nn.ReLU()),
                    ("fc3", nn.Linear(1024, 1))),
                (output, target) => nn.functional.mse_loss(output, target)),
            "chain" => (nn.Sequential(
                    new[] { ("in", (nn.Module<Tensor, Tensor>)nn.Linear(8, 512)) }
                        .Concat(Enumerable.Range(0, 8).SelectMany(i => new[] { ($"fc{i}", (nn.Module<Tensor, Tensor>)nn.Linear(512, 512)), ($"relu{i}", nn.ReLU()) }))
                        .Append(("out", nn.Linear(512, 1))).ToArray()),
                (output, target) => nn.functional.mse_loss(output, target)),
            _ => (nn.Sequential(
                    ("fc1", nn.Linear(8, 16)),
                    ("relu", nn.ReLU()),
                    ("fc2", nn.Linear(16, 1))),
                (output, target) => nn.functional.mse_loss(output, target)),
        };
    }

    public static optim.Optimizer Optimizer(string kind, IEnumerable<Parameter> parameters) => kind switch
    {
        "adam" => optim.Adam(parameters, 0.01),
        _ => optim.SGD(parameters, 0.05),
    };
}
