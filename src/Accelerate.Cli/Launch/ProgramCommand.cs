using System.Diagnostics;

namespace Accelerate.Cli.Launch;

/// <summary>How to start the user's program: a .dll through the dotnet host, a native executable, or a built project's output.</summary>
/// <param name="FileName">What to execute.</param>
/// <param name="Arguments">Arguments before the user's own (the .dll path for the dotnet host).</param>
/// <param name="DisplayName">Short name for messages.</param>
internal sealed record ProgramCommand(string FileName, IReadOnlyList<string> Arguments, string DisplayName)
{
    /// <summary>Works out how to run <paramref name="program"/>; builds it first when it is a project (with -getProperty alone, dotnet build only evaluates it).</summary>
    public static ProgramCommand Resolve(string program, bool noPython, LauncherConsole console)
    {
        var display = Path.GetFileName(program.TrimEnd('/'));
        if (Directory.Exists(program) || IsProjectFile(program))
            return FromProject(program, console);
        if (program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !noPython)
        {
            if (!File.Exists(program))
                throw new LaunchException(LaunchErrorCode.ProgramNotFound, $"Program '{program}' not found. Give the path of a built .dll (e.g. bin/Debug/net10.0/App.dll), an executable, or a project.");
            return new ProgramCommand(DotnetHost(), [Path.GetFullPath(program)], display);
        }
        if (program.Contains('/'))
        {
            if (!File.Exists(program))
                throw new LaunchException(LaunchErrorCode.ProgramNotFound, $"Program '{program}' not found. Give the path of a built .dll, an executable, or a project.");
            return new ProgramCommand(Path.GetFullPath(program), [], display);
        }
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
        if (File.Exists(program)) return new ProgramCommand(Path.GetFullPath(program), [], display);
        return onPath is not null ? new ProgramCommand(onPath, [], display)
            : throw new LaunchException(LaunchErrorCode.ProgramNotFound, $"Program '{program}' not found here or on PATH. Give the path of a built .dll, an executable, or a project.");
    }

    /// <summary>The dotnet host running this launcher (so host flags and versions carry over), else the one on PATH.</summary>
    public static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    private static bool IsProjectFile(string path) =>
        File.Exists(path) && (path.EndsWith(".csproj", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".fsproj", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".vbproj", StringComparison.OrdinalIgnoreCase));

    private static ProgramCommand FromProject(string project, LauncherConsole console)
    {
        console.Info($"building {project} ...");
        var build = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "build", project, "-nologo", "-v:q", "-t:Build", "-getProperty:TargetPath" }) build.ArgumentList.Add(arg);
        using var process = Process.Start(build)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (process.ExitCode != 0 || lines.Length == 0)
            throw new LaunchException(LaunchErrorCode.BuildFailed, $"Building '{project}' failed (dotnet build exited with {process.ExitCode}); fix the build, or launch the built .dll:\n{output}{errors.Result}".TrimEnd(), 1);
        var target = lines[^1];
        return target.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new ProgramCommand(DotnetHost(), [target], Path.GetFileName(target))
            : new ProgramCommand(target, [], Path.GetFileName(target));
    }
}
