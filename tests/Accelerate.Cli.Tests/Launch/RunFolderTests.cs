namespace Accelerate.Cli.Tests.Launch;

/// <summary>Where the launcher keeps error files and --tee logs, and who can read them.</summary>
[TestClass]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RunFolderTests
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [TestMethod]
    public void The_temporary_folder_is_created_new_under_TMPDIR_with_an_unpredictable_name_and_for_the_owner_only()
    {
        using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "sh", "-c", "exit 3"]);
        Assert.AreEqual(3, run.WaitForExit(), run.AllOutput);

        // A failed run keeps its folder for inspection.
        var folder = Directory.GetDirectories(run.TemporaryFolder).Single();
        StringAssert.StartsWith(Path.GetFileName(folder), "accelerate-");
        Assert.AreNotEqual($"accelerate-{run.Pid}", Path.GetFileName(folder), "not derived from the launcher's pid");
        Assert.IsGreaterThanOrEqualTo(6, Path.GetFileName(folder).Length - "accelerate-".Length, "a random part");
        foreach (var inside in Directory.GetDirectories(folder, "*", SearchOption.AllDirectories).Prepend(folder))
            Assert.AreEqual(OwnerOnlyFolder, File.GetUnixFileMode(inside), inside);
    }

    [TestMethod]
    public void Tee_logs_and_the_folders_the_launcher_makes_under_log_dir_are_for_the_owner_only()
    {
        var logs = Directory.CreateTempSubdirectory("accelerate-logs-");
        try
        {
            using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "--tee", "3", "--log_dir", logs.FullName, "--rdzv_id", "r", "sh", "-c", "echo out; echo err >&2"]);
            Assert.AreEqual(0, run.WaitForExit(), run.AllOutput);

            var rankFolder = Path.Combine(logs.FullName, "r", "attempt_0", "0");
            foreach (var folder in new[] { Path.Combine(logs.FullName, "r"), Path.Combine(logs.FullName, "r", "attempt_0"), rankFolder })
                Assert.AreEqual(OwnerOnlyFolder, File.GetUnixFileMode(folder), folder);
            foreach (var log in new[] { "stdout.log", "stderr.log" })
                Assert.AreEqual(OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(rankFolder, log)), log);
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void A_TMPDIR_where_no_folder_can_be_made_is_ACC3050_naming_it()
    {
        var notAFolder = Path.GetTempFileName();
        try
        {
            using var run = LauncherRun.Start(["--num_processes", "1", "--cpu", "sh", "-c", "exit 0"], new Dictionary<string, string?> { ["TMPDIR"] = notAFolder });
            Assert.AreEqual(1, run.WaitForExit(), run.AllOutput);

            var error = run.Stderr.Single(l => !l.StartsWith("[accelerate]", StringComparison.Ordinal));
            StringAssert.StartsWith(error, "accelerate launch: error ACC3050: ");
            StringAssert.Contains(error, "TMPDIR");
            StringAssert.Contains(error, "--log_dir");
        }
        finally
        {
            File.Delete(notAFolder);
        }
    }
}
