namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class LaunchSecretTests
{
    [TestMethod]
    public void Once_the_group_is_joined_the_launch_secret_is_gone_from_the_environment_of_the_rank_and_of_what_it_starts()
    {
        using var job = RankProcesses.StartJob(2, "children");

        job.WaitForAll();

        foreach (var rank in job.Ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "before own=yes managed-child=yes native-child=yes", "the secret is there to join with");
            StringAssert.Contains(rank.Output, "after own=no managed-child=no native-child=no", job.Describe());
        }
    }
}
