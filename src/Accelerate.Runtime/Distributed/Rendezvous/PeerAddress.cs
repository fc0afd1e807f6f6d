namespace Accelerate.Distributed.Rendezvous;

/// <summary>What a rank publishes about itself at the rendezvous: where to reach it and which machine it runs on.</summary>
/// <param name="Rank">Global rank.</param>
/// <param name="WorldSize">The world size this rank was started with (all must agree).</param>
/// <param name="Host">Host name, for messages.</param>
/// <param name="HostId">Identifies one machine and network namespace: ranks with the same id share memory.</param>
/// <param name="Address">IP address of the interface that reaches rank 0.</param>
/// <param name="Port">Port of the rank's peer listener.</param>
/// <param name="ProcessId">Process id, to tell a dead peer from a slow one on the same machine.</param>
internal sealed record PeerAddress(int Rank, int WorldSize, string Host, string HostId, string Address, int Port, int ProcessId)
{
    /// <summary>"rank 2 (host-a, pid 1234)", for messages.</summary>
    public string Describe() => $"rank {Rank} ({Host}, pid {ProcessId})";

    /// <summary>
    /// The identity of the machine alone (its running kernel's boot id), the same in each of its network namespaces
    /// and containers: ranks with the same one compete for the same CPUs. The host id when the boot id is unknown.
    /// </summary>
    public string MachineId => HostId.Split('/') is [_, { Length: > 0 } boot, _] ? boot : HostId;

    /// <summary>The identity of this machine and network namespace.</summary>
    public static string LocalHostId()
    {
        static string Read(string path)
        {
            try
            {
                return File.Exists(path) ? File.ReadAllText(path).Trim() : "";
            }
            catch (IOException)
            {
                return "";
            }
        }

        static string Link(string path)
        {
            try
            {
                return new FileInfo(path).LinkTarget ?? "";
            }
            catch (IOException)
            {
                return "";
            }
        }

        // Network namespaces on one machine behave as separate hosts: they do not share loopback.
        return $"{Environment.MachineName}/{Read("/proc/sys/kernel/random/boot_id")}/{Link("/proc/self/ns/net")}";
    }
}
