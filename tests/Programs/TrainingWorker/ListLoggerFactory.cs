using Microsoft.Extensions.Logging;

namespace Accelerate.TrainingWorker;

/// <summary>Keeps every entry as <c>category: message</c>, so that a run can report what it logged.</summary>
internal sealed class ListLoggerFactory(List<string> entries) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(categoryName, entries);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class ListLogger(string category, List<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Add($"{category}: {formatter(state, exception)}");
    }
}
