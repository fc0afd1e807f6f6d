using TorchSharp;
using static TorchSharp.torch;

namespace Regression;

/// <summary>Rows of four normal features and a noisy target; the same rows on every process (fixed seed).</summary>
public sealed class SyntheticRegression : utils.data.Dataset<(Tensor Input, Tensor Target)>
{
    private readonly Tensor _inputs;
    private readonly Tensor _targets;

    public SyntheticRegression(long rows)
    {
        using var generator = new Generator(42);
        _inputs = randn(rows, 4, generator: generator);
        var x = _inputs;
        _targets = (3 * x[.., 0] - 2 * x[.., 1] + 0.5 * x[.., 2] * x[.., 3] + 1).unsqueeze(1) + 0.01 * randn(rows, 1, generator: generator);
        Count = rows;
    }

    public override long Count { get; }

    public override (Tensor Input, Tensor Target) GetTensor(long index) => (_inputs[index], _targets[index]);
}
