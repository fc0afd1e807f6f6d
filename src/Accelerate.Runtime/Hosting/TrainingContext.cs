using System.ComponentModel;
using System.Diagnostics;

namespace Accelerate.Hosting;

/// <summary>
/// What the host hands a training function: the command-line arguments, a token cancelled on
/// Ctrl+C/SIGTERM or when the launcher is gone, and the <see cref="Accelerate.Accelerator"/>,
/// built on first use so that a method that does not take one never loads libtorch.
/// </summary>
[DebuggerNonUserCode]
// Called by the generated entry point, not by user code: hidden from completion.
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TrainingContext
{
    private readonly Lazy<Accelerator> _accelerator;

    /// <summary>Creates a context; <paramref name="createAccelerator"/> runs at most once, on first use of <see cref="Accelerator"/>.</summary>
    public TrainingContext(string[] arguments, CancellationToken cancellationToken, Func<Accelerator>? createAccelerator = null)
    {
        Arguments = arguments;
        CancellationToken = cancellationToken;
        _accelerator = new Lazy<Accelerator>(createAccelerator ?? (static () => new Accelerator()), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The program's command-line arguments.</summary>
    public string[] Arguments { get; }

    /// <summary>Cancelled on the first Ctrl+C or SIGTERM, or when the launcher is gone.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>This process's accelerator, created on first access.</summary>
    public Accelerator Accelerator => _accelerator.Value;

    /// <summary>The accelerator if one was created, for teardown.</summary>
    internal Accelerator? CreatedAccelerator => _accelerator.IsValueCreated ? _accelerator.Value : null;
}
