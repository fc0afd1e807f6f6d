namespace Accelerate.Cli.Tests.Config;

/// <summary>A private HF_HOME for a child process, deleted on dispose.</summary>
internal sealed class TemporaryHome : IDisposable
{
    public TemporaryHome() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "accelerate-cli-home-" + Guid.NewGuid().ToString("N"));

    public string DefaultFile => System.IO.Path.Combine(Path, "accelerate", "default_config.yaml");

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["HF_HOME"] = Path };

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
