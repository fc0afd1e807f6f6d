using Accelerate.Build.Launch;
using Microsoft.Build.Utilities;

namespace Accelerate.Build.Tests;

/// <summary>The command line <c>dotnet run</c> and the AccelerateLaunch target run: through the dotnet host for accelerate.dll, directly for the native launcher.</summary>
[TestClass]
public sealed class ComputeLaunchCommandTests
{
    private static ComputeLaunchCommand Computed(string launcher)
    {
        var task = new ComputeLaunchCommand
        {
            BuildEngine = new RecordingBuildEngine(),
            Properties = [new TaskItem("NumProcesses", new Dictionary<string, string> { ["Value"] = "2" })],
            ProjectDirectory = "/work/app",
            LauncherPath = launcher,
            DotnetHostPath = "/usr/share/dotnet/dotnet",
            TargetPath = "/work/app/bin/App.dll",
        };
        Assert.IsTrue(task.Execute());
        return task;
    }

    [TestMethod]
    public void A_launcher_dll_runs_through_the_dotnet_host()
    {
        var task = Computed("/sdk/tools/launcher/accelerate.dll");

        Assert.AreEqual("/usr/share/dotnet/dotnet", task.Command);
        Assert.AreEqual("exec \"/sdk/tools/launcher/accelerate.dll\" launch --num_processes 2 \"/work/app/bin/App.dll\"", task.CommandArguments);
    }

    [TestMethod]
    public void A_native_launcher_runs_itself()
    {
        var task = Computed("/sdk/tools/launcher/linux-x64/accelerate");

        Assert.AreEqual("/sdk/tools/launcher/linux-x64/accelerate", task.Command);
        Assert.AreEqual("launch --num_processes 2 \"/work/app/bin/App.dll\"", task.CommandArguments);
    }
}
