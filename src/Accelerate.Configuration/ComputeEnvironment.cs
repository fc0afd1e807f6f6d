namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>compute_environment</c>. Only <c>LOCAL_MACHINE</c> is supported.</summary>
public sealed class ComputeEnvironment : ConfigChoice, IConfigChoice<ComputeEnvironment>
{
    /// <summary><c>LOCAL_MACHINE</c>: this machine (or machines reached over the network).</summary>
    public static readonly ComputeEnvironment LocalMachine = new("LOCAL_MACHINE");

    private ComputeEnvironment(string name) : base(name) { }

    /// <inheritdoc/>
    public static IReadOnlyList<ComputeEnvironment> All { get; } = [LocalMachine];

    /// <inheritdoc/>
    public static IReadOnlyList<string> Unsupported { get; } = ["AMAZON_SAGEMAKER"];
}
