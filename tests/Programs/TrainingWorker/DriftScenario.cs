using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// Trains the small MLP with the parameter check on; after optimizer step <c>tamper=</c> rank 1 adds 0.001 to
/// the parameter <c>parameter=</c> (a module path name such as fc2.bias) behind the Accelerator's back.
/// <c>every=</c> sets AcceleratorOptions.CheckParameterSyncEvery (absent: the environment decides).
/// Records the steps taken and the error that stopped training, if any.
/// </summary>
public static class DriftScenario
{
    public static JsonObject Run(IReadOnlyDictionary<string, string> args)
    {
        var every = args.TryGetValue("every", out var text) ? int.Parse(text) : (int?)null;
        var tamper = args.TryGetValue("tamper", out var step) ? long.Parse(step) : -1;
        var name = args.GetValueOrDefault("parameter", "fc2.bias");
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true, CheckParameterSyncEvery = every });
        var (network, lossOf) = Models.Create("mlp");
        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), 0.05));
        torch.manual_seed(7);
        var inputs = accelerator.SplitRowsBetweenProcesses(torch.randn(64, 8));
        var targets = accelerator.SplitRowsBetweenProcesses(torch.randn(64, 1));
        var result = new JsonObject { ["rank"] = accelerator.ProcessIndex, ["check_every"] = accelerator.CheckParameterSyncEvery };
        try
        {
            for (var i = 0; i < 12; i++)
            {
                using var _ = torch.NewDisposeScope();
                optimizer.zero_grad();
                accelerator.Backward(lossOf(model.forward(inputs), targets));
                optimizer.step();
                if (accelerator.Step == tamper && accelerator.ProcessIndex == 1)
                    using (torch.no_grad())
                        network.named_parameters().Single(p => p.name == name).parameter.add_(0.001);
            }
        }
        catch (AccelerateException e)
        {
            result["error_code"] = e.Code;
            result["error"] = e.Message;
        }
        result["steps"] = accelerator.Step;
        return result;
    }
}
