using Microsoft.Extensions.Logging;

namespace Accelerate.Tracking;

/// <summary>
/// The logger <see cref="Accelerator.GetLogger"/> hands out: it passes entries to the inner logger
/// on the main process, and on the other ranks too unless <c>mainProcessOnly</c> (HF's
/// <c>get_logger(...).info(msg, main_process_only=True)</c>), so N ranks do not print N copies.
/// </summary>
internal sealed class MainProcessLogger(ILogger inner, bool enabled) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => enabled ? inner.BeginScope(state) : null;

    public bool IsEnabled(LogLevel logLevel) => enabled && inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (enabled) inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
