using System.Diagnostics;

namespace Accelerate;

/// <summary>
/// Test-only seam: lets a test kill a rank at a precise moment of <see cref="Accelerator.SaveState"/>
/// without sleeps. When <c>ACCELERATE_TEST_KILL_DURING_SAVE=phase@n</c> is set, the process sends
/// itself SIGKILL when its n-th save reaches that phase. Unset (always, outside tests) it does nothing.
/// Phases: <c>before-files</c>, <c>between-files</c> (after this rank's first file),
/// <c>before-rename</c> (the new folder is complete), <c>between-renames</c> (a replaced folder was
/// moved aside), <c>before-delete</c> (the new folder is in place, older copies not yet deleted).
/// </summary>
internal static class SaveKillPoint
{
    public const string Variable = "ACCELERATE_TEST_KILL_DURING_SAVE";

    private static readonly string? Target = System.Environment.GetEnvironmentVariable(Variable);

    public static void Reach(string phase, long save)
    {
        if (Target is null || Target != $"{phase}@{save}") return;
        Process.GetCurrentProcess().Kill(); // SIGKILL: no finally block, no flush, as a crash
        Thread.Sleep(Timeout.Infinite);
    }
}
