using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Accelerate.Cli.Tests.Config;

namespace Accelerate.Cli.Tests.Env;

[TestClass]
public sealed class EnvCommandTests
{
    private static string PackageVersion(string id)
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Directory.Packages.props"))) folder = folder.Parent;
        Assert.IsNotNull(folder, "the repository root is above the test output");
        return XDocument.Load(Path.Combine(folder.FullName, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(p => (string?)p.Attribute("Include") == id).Attribute("Version")!.Value;
    }

    [TestMethod]
    public void Env_reports_versions_platform_cpus_memory_and_gpus()
    {
        using var session = new CliSession(gpus: 2);

        Assert.AreEqual(0, session.Env(), session.Error.ToString());

        var text = session.Out.ToString();
        StringAssert.StartsWith(text, "Copy-and-paste the text below in your GitHub issue");
        StringAssert.Contains(text, "- Accelerate for .NET version: " + typeof(Accelerate.Cli.Program).Assembly.GetName().Version!.ToString(3));
        StringAssert.Contains(text, "- .NET runtime: " + RuntimeInformation.FrameworkDescription);
        StringAssert.Contains(text, "- Platform: " + RuntimeInformation.OSDescription);
        StringAssert.Contains(text, $"- CPU count: {Environment.ProcessorCount}\n");
        StringAssert.Matches(text, new Regex(@"- System RAM: [1-9][0-9]*\.[0-9]{2} GiB"));
        StringAssert.Contains(text, "- TorchSharp version (built against): " + PackageVersion("TorchSharp") + "\n");
        StringAssert.Contains(text, "- libtorch version (built against): " + PackageVersion("libtorch-cpu-linux-x64") + "\n");
        StringAssert.Contains(text, "- CUDA available: yes (2 GPU(s) found)\n- NVIDIA driver: 550.54.15\n- GPU: 0: NVIDIA A100-SXM4-80GB (81920 MiB)\n- GPU: 1: NVIDIA A100-SXM4-80GB (81920 MiB)\n");
    }

    [TestMethod]
    public void Env_says_not_found_when_there_is_no_config_and_why_there_is_no_cuda()
    {
        using var session = new CliSession(gpus: 0);

        Assert.AreEqual(0, session.Env());

        var text = session.Out.ToString();
        StringAssert.Contains(text, "- CUDA available: no (the CUDA driver library (libcuda.so.1) is not installed or does not load)\n");
        Assert.DoesNotContain("- GPU:", text);
        StringAssert.Contains(text, $"- Config file: {session.DefaultFile}\n- Config: not found\n");
    }

    [TestMethod]
    public void Env_prints_the_config_file_contents()
    {
        using var session = new CliSession();
        var path = Path.Combine(session.Home, "mine.yaml");
        File.WriteAllText(path, "distributed_type: MULTI_CPU\nnum_processes: 4\nuse_cpu: true\n");

        Assert.AreEqual(0, session.Env("--config_file", path));

        StringAssert.Contains(session.Out.ToString(), $"- Config file: {path}\n- Config:\n\tdistributed_type: MULTI_CPU\n\tnum_processes: 4\n\tuse_cpu: true\n");
    }

    [TestMethod]
    public void Env_shows_why_a_config_file_is_invalid()
    {
        using var session = new CliSession();
        Directory.CreateDirectory(Path.GetDirectoryName(session.DefaultFile)!);
        File.WriteAllText(session.DefaultFile, "distributed_type: FSDP\n");

        Assert.AreEqual(0, session.Env());

        StringAssert.Contains(session.Out.ToString(), $"- Config: invalid\n\t{session.DefaultFile}:1:19: error ACC2404: `distributed_type: FSDP` is not supported");
    }

    [TestMethod]
    public void The_command_does_not_depend_on_TorchSharp_so_env_never_loads_libtorch()
    {
        var dependencies = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "accelerate.deps.json"));

        Assert.DoesNotContain("TorchSharp", dependencies);
        Assert.DoesNotContain("libtorch", dependencies);
    }

    [TestMethod]
    public void The_real_env_command_runs_in_its_own_process()
    {
        using var home = new TemporaryHome();
        using var env = AccelerateProcess.Start(home.Environment, "env");

        Assert.AreEqual(0, env.WaitForExit(), env.Error);

        StringAssert.Contains(env.Output, "- TorchSharp version (built against): " + PackageVersion("TorchSharp"));
        StringAssert.Contains(env.Output, "- Config: not found");
        if (!Directory.Exists("/proc/driver/nvidia")) StringAssert.Contains(env.Output, "- CUDA available: no");
    }
}
