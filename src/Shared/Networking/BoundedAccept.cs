using System.Net.Sockets;

namespace Accelerate;

/// <summary>
/// The accept loop of a listener that strangers can reach (the launchers' rendezvous lobby, a rank's listener for
/// its peers): each connection is handled on a task of its own, so that one that says nothing, or drips bytes, holds
/// up nobody; past <c>maxPending</c> connections still being handled, a new one is closed at once, so that strangers
/// cannot pile up work (a member retries). This file is compiled into both the launcher and the runtime.
/// </summary>
internal static class BoundedAccept
{
    /// <summary>
    /// Accepts and hands each connection to <paramref name="handle"/> (which owns it) until <paramref name="done"/> is
    /// true before an accept; ends with the accept's exception when <paramref name="cancel"/> fires or the listener closes.
    /// </summary>
    public static async Task RunAsync(Socket listener, int maxPending, Action<Socket> handle, Func<bool> done, CancellationToken cancel)
    {
        var pending = 0;
        while (!done())
        {
            var connection = await listener.AcceptAsync(cancel).ConfigureAwait(false);
            if (Interlocked.Increment(ref pending) > maxPending)
            {
                Interlocked.Decrement(ref pending);
                connection.Dispose();
                continue;
            }
            _ = Task.Run(() =>
            {
                try
                {
                    handle(connection);
                }
                finally
                {
                    Interlocked.Decrement(ref pending);
                }
            });
        }
    }
}
