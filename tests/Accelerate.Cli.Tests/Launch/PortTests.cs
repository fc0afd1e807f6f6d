using System.Net;
using System.Net.Sockets;

namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class PortTests
{
    [TestMethod]
    public void A_busy_port_is_an_error_naming_the_port_and_its_holder_before_any_rank_starts()
    {
        var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        try
        {
            var port = ((IPEndPoint)holder.LocalEndpoint).Port;
            using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--main_process_port", port.ToString()], "env");
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);
            var error = run.WaitForLine(l => l.Contains("ACC3020"));
            StringAssert.Contains(error, $"Port {port} (--main_process_port) is already in use by process {Environment.ProcessId}");
            StringAssert.Contains(error, "--main_process_port 0");
            Assert.IsEmpty(RankReport.From(run.Stdout), "no rank started");
        }
        finally
        {
            holder.Stop();
        }
    }

    [TestMethod]
    public void A_free_given_port_reaches_the_ranks()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; probe.Stop(); }
        using var run = LauncherRun.Probe(["--num_processes", "2", "--cpu", "--master_port", port.ToString()], "rendezvous");
        Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);
        run.WaitForLine(l => l == $"[rank 0] rendezvous ok port={port} ranks=1");
    }

    [TestMethod]
    public void Two_launches_at_once_get_different_ports_and_both_meet()
    {
        using var first = LauncherRun.Probe(["--num_processes", "3", "--cpu"], "rendezvous");
        using var second = LauncherRun.Probe(["--num_processes", "3", "--cpu"], "rendezvous");
        Assert.AreEqual(0, first.WaitForExit(), first.AllOutput);
        Assert.AreEqual(0, second.WaitForExit(), second.AllOutput);
        var a = first.WaitForLine(l => l.StartsWith("[rank 0] rendezvous ok"));
        var b = second.WaitForLine(l => l.StartsWith("[rank 0] rendezvous ok"));
        StringAssert.EndsWith(a, "ranks=1,2");
        StringAssert.EndsWith(b, "ranks=1,2");
        Assert.AreNotEqual(a.Split(' ')[4], b.Split(' ')[4], "each launch has its own port");
    }
}
