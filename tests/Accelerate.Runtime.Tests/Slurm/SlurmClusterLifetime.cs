namespace Accelerate.Runtime.Tests.Slurm;

/// <summary>Stops the SLURM cluster the tests of this run shared, once they are all done.</summary>
[TestClass]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SlurmClusterLifetime
{
    [AssemblyCleanup]
    public static void StopCluster() => SlurmCluster.StopShared();
}
