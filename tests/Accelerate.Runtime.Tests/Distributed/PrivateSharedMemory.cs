namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// A mount namespace with its own tmpfs of <c>size</c> bytes over /dev/shm, held open by a process started in
/// <paramref name="job"/> (so the job's cleanup ends it): what a container with its own /dev/shm looks like.
/// Ranks started with <see cref="Prefix"/> see that /dev/shm instead of the host's.
/// </summary>
internal sealed class PrivateSharedMemory
{
    private readonly RankProcesses.Rank _holder;

    private PrivateSharedMemory(RankProcesses.Rank holder) => _holder = holder;

    public static PrivateSharedMemory Create(RankProcesses job, string size)
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/unshare") || !File.Exists("/usr/bin/nsenter"))
            Assert.Inconclusive("A private /dev/shm needs root and util-linux (unshare, nsenter).");
        var holder = job.Start([], ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            $"mount -t tmpfs -o size={size},mode=1777 tmpfs /dev/shm && echo mounted && exec sleep infinity"]);
        holder.WaitForLine("mounted", TimeSpan.FromSeconds(30));
        return new PrivateSharedMemory(holder);
    }

    /// <summary>Runs a command inside the namespace.</summary>
    public string[] Prefix => ["/usr/bin/nsenter", $"--mount=/proc/{_holder.Process.Id}/ns/mnt", "--"];

    /// <summary>The namespace's /dev/shm, seen from outside it.</summary>
    public string Directory => $"/proc/{_holder.Process.Id}/root/dev/shm";
}
