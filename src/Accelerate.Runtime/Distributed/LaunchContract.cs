using System.Globalization;

namespace Accelerate.Distributed;

/// <summary>
/// Reads the environment variables a launcher sets (docs/launch-contract.md) into a
/// <see cref="DistributedEnvironment"/>.
/// </summary>
public static class LaunchContract
{
    /// <summary>Reads this process's environment.</summary>
    public static DistributedEnvironment Read() => Read(name => System.Environment.GetEnvironmentVariable(name));

    /// <summary>Reads an environment given as a lookup, for tests and for launchers that prepare one.</summary>
    public static DistributedEnvironment Read(Func<string, string?> variables)
    {
        var worldSize = Int(variables, "WORLD_SIZE");
        var rank = Int(variables, "RANK");
        if (worldSize is null || rank is null) return DistributedEnvironment.SingleProcess;

        var localWorldSize = Int(variables, "LOCAL_WORLD_SIZE") ?? worldSize.Value;
        return new DistributedEnvironment(
            rank.Value,
            Int(variables, "LOCAL_RANK") ?? rank.Value,
            worldSize.Value,
            localWorldSize,
            Int(variables, "GROUP_RANK") ?? 0,
            Int(variables, "GROUP_WORLD_SIZE") ?? 1,
            variables("MASTER_ADDR") ?? "127.0.0.1",
            Int(variables, "MASTER_PORT") ?? 29500,
            variables("ACCELERATE_LAUNCH_SECRET"),
            variables("TORCHELASTIC_RUN_ID") is null ? "env" : "accelerate");
    }

    private static int? Int(Func<string, string?> variables, string name)
    {
        var text = variables(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) return value;
        throw new AccelerateException("ACC2002", $"The environment variable {name}='{text}' is not a whole number. Unset it, or set it to the value the launcher would (see docs/launch-contract.md).");
    }
}
