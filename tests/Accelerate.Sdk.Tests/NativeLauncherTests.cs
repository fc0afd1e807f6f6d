using System.IO.Compression;
using System.Runtime.InteropServices;

namespace Accelerate.Sdk.Tests;

/// <summary>
/// The native launcher (Native AOT, linux-x64): Accelerate.Sdk packed with it, as a pack on linux-x64 is by default,
/// and a project on that package, launched through it and through accelerate.dll. The rest of the suite's feed leaves
/// it out (compiling it takes minutes), so every other launch there goes through accelerate.dll: the fallback.
/// </summary>
[TestClass]
public sealed class NativeLauncherTests
{
    private static string _version = "";
    private static string _project = "";
    private static string _launcher = "";

    private static bool OnLinuxX64 => OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64;

    [ClassInitialize]
    public static void PackWithTheNativeLauncher(TestContext _)
    {
        if (!OnLinuxX64) return;
        _version = PackageFeed.Version + ".native";
        LocalPackageFeed.PackWithNativeLauncher(PackageFeed.RepoRoot, PackageFeed.Configuration, PackageFeed.FeedDirectory, _version, "src/Accelerate.Sdk/Accelerate.Sdk.csproj");
        // The SDK references the build tasks package of its own version in every project.
        LocalPackageFeed.Pack(PackageFeed.RepoRoot, PackageFeed.Configuration, PackageFeed.FeedDirectory, _version, "src/Accelerate.Build.Tasks/Accelerate.Build.Tasks.csproj");
        _project = PackageFeed.CreateEnvironmentProbe("NativeProbe", """
                var env = (string name) => Environment.GetEnvironmentVariable(name) ?? "-";
                Console.WriteLine($"probe rank={env("RANK")} local={env("LOCAL_RANK")} world={env("WORLD_SIZE")} master={env("MASTER_ADDR")} cpu={env("ACCELERATE_USE_CPU")} precision={env("ACCELERATE_MIXED_PRECISION")} args={string.Join(",", args)}");
                // The launcher is the ranks' parent: which executable it is shows which launcher ran.
                var launcher = new FileInfo($"/proc/{env("ACCELERATE_LAUNCHER_PID")}/exe").LinkTarget;
                Console.WriteLine($"launcher rank={env("RANK")} {Path.GetFileName(launcher)}");
                """, sdk: $"Accelerate.Sdk/{_version}");
        var (exitCode, output) = DotNet.Run(_project, "msbuild", "-restore", "-nologo", "-getProperty:AccelerateLauncherPath");
        Assert.AreEqual(0, exitCode, output);
        _launcher = output.Trim().Split('\n')[^1].Trim();
    }

    [ClassCleanup]
    public static void RemovePackage() => LocalPackageFeed.RemoveFromPackagesFolder(_version, "accelerate.sdk", "accelerate.build.tasks");

    [TestInitialize]
    public void RequireLinuxX64()
    {
        if (!OnLinuxX64) Assert.Inconclusive("The native launcher is built for linux-x64 only.");
    }

    [TestMethod]
    public void The_package_carries_the_native_launcher_beside_the_dll()
    {
        using var package = ZipFile.OpenRead(Path.Combine(PackageFeed.FeedDirectory, $"Accelerate.Sdk.{_version}.nupkg"));
        var native = package.GetEntry("tools/launcher/linux-x64/accelerate") ?? throw new AssertFailedException("no tools/launcher/linux-x64/accelerate");
        Assert.IsNotNull(package.GetEntry("tools/launcher/accelerate.dll"), "the framework-dependent launcher stays");
        Assert.IsNull(package.GetEntry("tools/launcher/linux-x64/accelerate.dbg"), "the native symbols file is not shipped");
        var magic = new byte[4];
        using (var stream = native.Open()) stream.ReadExactly(magic);
        CollectionAssert.AreEqual(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, magic, "an ELF executable");
    }

    [TestMethod]
    public void The_sdk_picks_the_native_launcher_of_this_machine()
    {
        StringAssert.EndsWith(_launcher, "/tools/launcher/linux-x64/accelerate");
        StringAssert.Contains(_launcher, Path.Combine("accelerate.sdk", _version.ToLowerInvariant()));
    }

    [TestMethod]
    public void The_native_launcher_prints_its_help()
    {
        var (exitCode, output) = Native("--help");
        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "usage: accelerate <command> [<args>]");

        (exitCode, output) = Native("launch", "--help");
        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "--num_processes");
    }

    [TestMethod]
    public void dotnet_run_launches_through_the_native_launcher_and_the_ranks_see_what_the_dll_gives_them()
    {
        var native = DotNet.Run(_project, "run", "-p:NumProcesses=2", "-p:MixedPrecision=bf16", "--", "first", "second");
        var dll = DotNet.Run(_project, "run", "-p:NumProcesses=2", "-p:MixedPrecision=bf16", "-p:AccelerateNativeLauncher=false", "--", "first", "second");

        Assert.AreEqual(0, native.ExitCode, native.Output);
        Assert.AreEqual(0, dll.ExitCode, dll.Output);
        foreach (var rank in new[] { 0, 1 })
        {
            StringAssert.Contains(native.Output, $"[rank {rank}] launcher rank={rank} accelerate");
            StringAssert.Contains(dll.Output, $"[rank {rank}] launcher rank={rank} dotnet", "AccelerateNativeLauncher=false takes accelerate.dll");
            StringAssert.Contains(native.Output, $"[rank {rank}] probe rank={rank} local={rank} world=2 master=127.0.0.1 cpu=True precision=bf16 args=first,second");
        }
        Assert.AreEqual(string.Join('\n', ProbeLines(dll.Output)), string.Join('\n', ProbeLines(native.Output)), "the ranks see the same launch from either launcher");
    }

    [TestMethod]
    public void The_AccelerateLaunch_target_launches_through_the_native_launcher()
    {
        var (exitCode, output) = DotNet.Run(_project, "build", "-t:AccelerateLaunch", "-p:NumProcesses=2", "-p:AccelerateProgramArguments=from-msbuild");

        Assert.AreEqual(0, exitCode, output);
        StringAssert.Contains(output, "[rank 0] launcher rank=0 accelerate");
        StringAssert.Contains(output, "[rank 1] probe rank=1 local=1 world=2 master=127.0.0.1 cpu=True precision=no args=from-msbuild");
    }

    private static (int ExitCode, string Output) Native(params string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(_launcher, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    private static IEnumerable<string> ProbeLines(string output) =>
        output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("[rank ", StringComparison.Ordinal) && l.Contains("] probe ", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
}
