using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Accelerate.Configuration.Slurm;

/// <summary>
/// Where a task reaches a SLURM node it knows by name (the first host of the node list, where rank 0 runs).
/// On most clusters node names resolve (DNS, /etc/hosts). Where one does not, SLURM itself reaches the node at
/// its <c>NodeAddr</c> (slurm.conf), which <c>scontrol show node NAME</c> reports from any task of the job.
/// </summary>
/// <remarks>Compiled into both the launcher (machine 0's address) and the runtime (rank 0's, for ranks started by srun).</remarks>
internal static partial class SlurmNodeAddress
{
    /// <summary>Longest wait for <c>scontrol</c>'s answer (it asks slurmctld).</summary>
    private static readonly TimeSpan ScontrolTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <paramref name="node"/> itself when it is an address or resolves here; else the node's <c>NodeAddr</c> when that
    /// is another name or address; else null, with <paramref name="why"/> telling what <c>scontrol</c> answered.
    /// </summary>
    public static string? Find(string node, out string why)
    {
        why = "";
        if (IPAddress.TryParse(node, out _) || Resolves(node)) return node;
        var (exitCode, output) = Scontrol("show", "node", "--oneliner", node);
        var address = exitCode == 0 ? NodeAddr().Match(output) : Match.Empty;
        if (address.Success && address.Groups[1].Value != node) return address.Groups[1].Value;
        why = exitCode != 0 ? $"`scontrol show node {node}` failed: {output.Trim()}"
            : address.Success ? $"its NodeAddr in slurm.conf is the name itself"
            : $"`scontrol show node {node}` names no NodeAddr";
        return null;
    }

    /// <summary>True when <paramref name="host"/> has an address in this machine's resolver (DNS, /etc/hosts).</summary>
    private static bool Resolves(string host)
    {
        try
        {
            return Dns.GetHostAddresses(host).Length > 0;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false; // not a host name at all
        }
    }

    private static (int ExitCode, string Output) Scontrol(params string[] arguments)
    {
        var start = new ProcessStartInfo("scontrol") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(ScontrolTimeout))
            {
                process.Kill();
                return (-1, $"no answer within {ScontrolTimeout.TotalSeconds:0} s");
            }
            return (process.ExitCode, output.Result + error.Result);
        }
        catch (Win32Exception e)
        {
            return (-1, $"scontrol cannot be started ({e.Message})");
        }
    }

    [GeneratedRegex(@"(?:^|\s)NodeAddr=(\S+)")]
    private static partial Regex NodeAddr();
}
