using System.Diagnostics;

namespace Accelerate.Hosting;

/// <summary>
/// What the host hands a training function: the command-line arguments, a token cancelled on
/// Ctrl+C/SIGTERM or when the launcher is gone, and the <see cref="Accelerate.Accelerator"/>,
/// built on first use so that a method that does not take one never loads libtorch.
/// </summary>
[DebuggerNonUserCode]
public sealed class TrainingContext
{
    private readonly Func<Accelerator> _createAccelerator;
    private Accelerator? _accelerator;

    /// <summary>Creates a context; <paramref name="createAccelerator"/> runs at most once, on first use of <see cref="Accelerator"/>.</summary>
    public TrainingContext(string[] arguments, CancellationToken cancellationToken, Func<Accelerator>? createAccelerator = null)
    {
        Arguments = arguments;
        CancellationToken = cancellationToken;
        _createAccelerator = createAccelerator ?? (static () => new Accelerator());
    }

    /// <summary>The program's command-line arguments.</summary>
    public string[] Arguments { get; }

    /// <summary>Cancelled on the first Ctrl+C or SIGTERM, or when the launcher is gone.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>This process's accelerator, created on first access.</summary>
    public Accelerator Accelerator => _accelerator ??= _createAccelerator();

    /// <summary>The accelerator if one was created, for teardown.</summary>
    internal Accelerator? CreatedAccelerator => _accelerator;
}
