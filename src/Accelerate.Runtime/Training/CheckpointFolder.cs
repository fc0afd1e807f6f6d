using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Accelerate;

/// <summary>
/// A folder <see cref="Accelerator.SaveState"/> wrote, checked before anything is loaded from it:
/// <c>accelerator.json</c> lists every other file with its length and SHA-256, so a missing,
/// truncated, random or foreign file is a coded error naming it instead of a crash half-way
/// through restoring the state.
/// </summary>
internal sealed class CheckpointFolder
{
    public const string ProgressFile = "accelerator.json";
    public const string Staging = ".saving-";
    public const string Replaced = ".replaced-";

    private CheckpointFolder(string path, Accelerator.TrainingProgressState progress)
    {
        Path = path;
        Progress = progress;
    }

    /// <summary>The folder the state is read from.</summary>
    public string Path { get; }

    public Accelerator.TrainingProgressState Progress { get; }

    /// <summary>
    /// Opens the checkpoint saved as <paramref name="requested"/>. When a save that replaced that
    /// folder was killed between moving the old copy aside and renaming the new one in, the folder is
    /// missing: the new copy (complete: its accelerator.json is written last) is read, else the old one.
    /// </summary>
    public static CheckpointFolder Open(string requested)
    {
        var path = Complete(requested) ? requested
            : Siblings(requested, Staging).Concat(Siblings(requested, Replaced)).FirstOrDefault(Complete)
            ?? throw new AccelerateException(RuntimeErrorCode.NoCheckpoint, $"{requested} is not a complete checkpoint (no {ProgressFile}). Pass a folder SaveState wrote.");
        var progressFile = System.IO.Path.Combine(path, ProgressFile);
        Accelerator.TrainingProgressState? progress;
        try
        {
            progress = JsonSerializer.Deserialize<Accelerator.TrainingProgressState>(File.ReadAllText(progressFile));
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or NotSupportedException)
        {
            throw Damaged(progressFile, "it is not the JSON SaveState writes", e);
        }
        if (progress?.Loaders is null) throw Damaged(progressFile, "it is not the JSON SaveState writes");
        return new CheckpointFolder(path, progress);
    }

    /// <summary>The path of <paramref name="name"/>, after checking it is there and is what SaveState wrote.</summary>
    public string Require(string name)
    {
        var file = System.IO.Path.Combine(Path, name);
        if (!File.Exists(file))
            throw new AccelerateException(RuntimeErrorCode.CheckpointFileMissing, $"{file} is missing: the checkpoint is incomplete, or was saved with fewer models, optimizers, schedulers or registered objects than this run prepares. Load a checkpoint of the same training setup, or start without one.");
        if (Progress.Files is not { } files) return file; // saved before files were listed: parsing still checks what it reads
        if (!files.TryGetValue(name, out var expected))
            throw Damaged(file, $"{ProgressFile} does not list it");
        var length = new FileInfo(file).Length;
        if (length != expected.Length)
            throw Damaged(file, $"it has {length} bytes where SaveState wrote {expected.Length} (truncated or replaced)");
        if (!Digest(file).Equals(expected.Sha256, StringComparison.OrdinalIgnoreCase))
            throw Damaged(file, "its contents differ from what SaveState wrote (SHA-256 mismatch)");
        return file;
    }

    /// <summary>Length and SHA-256 of every file in <paramref name="folder"/>, for its accelerator.json.</summary>
    public static Dictionary<string, Accelerator.FileDigest> Digests(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => System.IO.Path.GetFileName(f), f => new Accelerator.FileDigest(new FileInfo(f).Length, Digest(f)));

    public static AccelerateException Damaged(string file, string what, Exception? inner = null) =>
        new(RuntimeErrorCode.CheckpointFileDamaged, $"{file} is damaged: {what}. Load another checkpoint (an older checkpoint_N), or start without one.", inner);

    private static bool Complete(string folder) => File.Exists(System.IO.Path.Combine(folder, ProgressFile));

    /// <summary>Leftovers of interrupted saves of <paramref name="folder"/> (<c>name.saving-token</c>, <c>name.replaced-token</c>).</summary>
    public static IEnumerable<string> Siblings(string folder, string kind)
    {
        var parent = System.IO.Path.GetDirectoryName(folder);
        return parent is null || !Directory.Exists(parent) ? [] : Directory.GetDirectories(parent, System.IO.Path.GetFileName(folder) + kind + "*");
    }

    private static string Digest(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
