using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// A fixed dataset drawn from a seeded generator: the same samples in every process. Sample i also
/// carries its index, so a run can report which samples each rank read.
/// </summary>
public sealed class SyntheticDataset : torch.utils.data.Dataset<(Tensor input, Tensor target)>
{
    private readonly Tensor _inputs;
    private readonly Tensor _targets;

    public SyntheticDataset(string model, long size, long seed = 7)
    {
        var generator = new Generator((ulong)seed);
        if (model == "cnn")
        {
            _inputs = torch.randn(new long[] { size, 1, 8, 8 }, generator: generator);
            _targets = torch.randint(0, 3, new long[] { size }, generator: generator);
        }
        else if (model == "index")
        {
            _inputs = torch.arange(size, dtype: ScalarType.Float32).unsqueeze(1);
            _targets = torch.arange(size, dtype: ScalarType.Int64);
        }
        else
        {
            _inputs = torch.randn(new long[] { size, 8 }, generator: generator);
            using var weights = torch.randn(new long[] { 8, 1 }, generator: generator);
            _targets = _inputs.matmul(weights).tanh();
        }
        Count = size;
    }

    public override long Count { get; }

    public override (Tensor input, Tensor target) GetTensor(long index) => (_inputs[index], _targets[index]);

    public static (Tensor, Tensor) Collate(IEnumerable<(Tensor input, Tensor target)> items, Device device)
    {
        var list = items.ToList();
        var inputs = torch.stack(list.Select(i => i.input)).to(device);
        var targets = torch.stack(list.Select(i => i.target)).to(device);
        return (inputs, targets);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inputs.Dispose();
            _targets.Dispose();
        }
        base.Dispose(disposing);
    }
}
