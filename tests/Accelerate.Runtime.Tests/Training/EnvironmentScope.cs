namespace Accelerate.Runtime.Tests.Training;

/// <summary>Sets environment variables for a test and restores the previous values after it.</summary>
internal sealed class EnvironmentScope : IDisposable
{
    private readonly List<(string name, string? value)> _previous = new();

    public EnvironmentScope(params (string name, string? value)[] variables)
    {
        foreach (var (name, value) in variables)
        {
            _previous.Add((name, Environment.GetEnvironmentVariable(name)));
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _previous) Environment.SetEnvironmentVariable(name, value);
    }
}
