using Microsoft.Extensions.Logging;

namespace Accelerate.Tracking;

/// <summary>
/// The logger used when <see cref="AcceleratorOptions.LoggerFactory"/> is not set: one line per
/// entry on standard error, <c>info: category: message</c>, from the level
/// <c>ACCELERATE_LOG_LEVEL</c> names (<c>debug</c>, <c>info</c>, <c>warning</c>, <c>error</c>, <c>critical</c>; default <c>info</c>).
/// </summary>
internal sealed class StandardErrorLogger(string category, LogLevel minimum) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var line = $"{Label(logLevel)}: {category}: {formatter(state, exception)}";
        Console.Error.WriteLine(exception is null ? line : line + System.Environment.NewLine + exception);
    }

    /// <summary>The level <c>ACCELERATE_LOG_LEVEL</c> sets, as HF's logging reads it; an unknown name is an error that lists the names.</summary>
    public static LogLevel LevelFromEnvironment()
    {
        var name = System.Environment.GetEnvironmentVariable("ACCELERATE_LOG_LEVEL");
        return name?.Trim().ToLowerInvariant() switch
        {
            null or "" or "info" => LogLevel.Information,
            "debug" => LogLevel.Debug,
            "trace" => LogLevel.Trace,
            "warning" or "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" or "fatal" => LogLevel.Critical,
            _ => throw new AccelerateException(RuntimeErrorCode.BadLogLevel, $"ACCELERATE_LOG_LEVEL='{name}' is not a log level; set it to debug, info, warning, error or critical."),
        };
    }

    private static string Label(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };
}
