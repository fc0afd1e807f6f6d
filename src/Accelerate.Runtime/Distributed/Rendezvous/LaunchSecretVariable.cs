using System.Runtime.InteropServices;

namespace Accelerate.Distributed.Rendezvous;

/// <summary>
/// <c>ACCELERATE_LAUNCH_SECRET</c>, the per-launch secret that admits a rank to the rendezvous. Once the group is
/// joined the rank has no more use for it (<see cref="DistributedState"/> keeps what it read), so it is taken out
/// of the process environment: processes the training program starts (data loaders, shells, tools) never see it.
/// </summary>
internal static class LaunchSecretVariable
{
    /// <summary>The variable's name.</summary>
    public const string Name = "ACCELERATE_LAUNCH_SECRET";

    /// <summary>Removes the variable from .NET's view of the environment and from the C library's (native code, <c>system()</c>).</summary>
    public static void Forget()
    {
        Environment.SetEnvironmentVariable(Name, null);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) _ = UnsetEnv(Name);
    }

    [DllImport("libc", EntryPoint = "unsetenv")]
    private static extern int UnsetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
