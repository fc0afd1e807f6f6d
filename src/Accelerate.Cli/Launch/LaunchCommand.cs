using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Accelerate.Cli.Launch;

/// <summary><c>accelerate launch [--num_processes N] program.dll [args]</c>: starts N ranks on this machine.</summary>
internal static class LaunchCommand
{
    public static int Run(string[] args)
    {
        var processes = 1;
        var i = 0;
        for (; i < args.Length && args[i].StartsWith("--", StringComparison.Ordinal); i++)
        {
            if (args[i] is "--num_processes" or "--num-processes" && i + 1 < args.Length && int.TryParse(args[i + 1], out processes) && processes > 0) i++;
            else
            {
                Console.Error.WriteLine($"accelerate launch: unknown option '{args[i]}'. Use --num_processes N.");
                return 2;
            }
        }
        if (i >= args.Length)
        {
            Console.Error.WriteLine("accelerate launch: no program given. Usage: accelerate launch [--num_processes N] <program.dll> [args...]");
            return 2;
        }

        var program = args[i];
        var port = FreePort();
        var children = Enumerable.Range(0, processes).Select(rank =>
        {
            var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(program);
            foreach (var a in args[(i + 1)..]) start.ArgumentList.Add(a);
            start.Environment["RANK"] = start.Environment["LOCAL_RANK"] = rank.ToString();
            start.Environment["WORLD_SIZE"] = start.Environment["LOCAL_WORLD_SIZE"] = processes.ToString();
            start.Environment["MASTER_ADDR"] = "127.0.0.1";
            start.Environment["MASTER_PORT"] = port.ToString();
            var child = Process.Start(start)!;
            child.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.Out.WriteLine($"[rank {rank}] {e.Data}"); };
            child.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[rank {rank}] {e.Data}"); };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            return child;
        }).ToList();
        foreach (var c in children) c.WaitForExit();
        return children.Select(c => c.ExitCode).FirstOrDefault(code => code != 0);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
