using System.Runtime.InteropServices;

namespace Accelerate.Hosting;

/// <summary>
/// Turns the first Ctrl+C, SIGTERM or SIGHUP into a cancelled token, so that the training function
/// can save and stop; a second signal terminates the process as usual.
/// </summary>
internal sealed class SignalCancellation : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly Action<string> _notify;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _received;

    public SignalCancellation(CancellationTokenSource source, Action<string> notify)
    {
        _source = source;
        _notify = notify;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
        {
            try
            {
                _registrations.Add(PosixSignalRegistration.Create(signal, Handle));
            }
            catch (PlatformNotSupportedException)
            {
                // SIGHUP has no equivalent on Windows; the others are still handled.
            }
        }
    }

    /// <summary>The Unix number of the first signal received (2 for SIGINT, 15 for SIGTERM, 1 for SIGHUP), or 0.</summary>
    public int Received => Volatile.Read(ref _received);

    private void Handle(PosixSignalContext context)
    {
        var number = context.Signal switch
        {
            PosixSignal.SIGINT => 2,
            PosixSignal.SIGTERM => 15,
            PosixSignal.SIGHUP => 1,
            _ => 0,
        };
        if (Interlocked.CompareExchange(ref _received, number, 0) != 0) return; // second signal: default action
        context.Cancel = true;
        _notify($"{context.Signal} received: cancelling the training function's CancellationToken (send it again to stop at once).");
        CancelQuietly(_source);
    }

    /// <summary>
    /// Cancels from a signal or timer thread, where an exception would end the process: a callback
    /// the training function registered may throw, and the host may have finished meanwhile.
    /// </summary>
    internal static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (Exception e) when (e is AggregateException or ObjectDisposedException)
        {
            // The token is cancelled (or no longer matters); the function sees the rest itself.
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
    }
}
