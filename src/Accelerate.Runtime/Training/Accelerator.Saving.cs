using System.Collections;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    private readonly List<Action<IReadOnlyList<nn.Module>, string>> _saveStateHooks = new();
    private readonly List<Action<IReadOnlyList<nn.Module>, string>> _loadStateHooks = new();

    /// <summary>
    /// Makes the next epoch of a prepared data loader start at batch <paramref name="batches"/>, as
    /// HF's <c>skip_first_batches</c> (e.g. to go on mid-epoch after loading weights by hand): the
    /// skipped batches are not read, and the epochs after it are read in full. Returns the same loader,
    /// so it can be written in the <c>foreach</c>. Skipping all the epoch's batches or more reads none.
    /// </summary>
    public DataLoader<T, S> SkipFirstBatches<T, S>(DataLoader<T, S> loader, long batches)
    {
        ArgumentNullException.ThrowIfNull(loader);
        if (batches < 0)
            throw new AccelerateException(RuntimeErrorCode.BadSkipFirstBatches, $"SkipFirstBatches was asked to skip {batches} batches. Pass 0 or more.");
        if (loader is not AcceleratedDataLoader<T, S> prepared)
            throw new AccelerateException(RuntimeErrorCode.BadSkipFirstBatches, "SkipFirstBatches was given a data loader that was not prepared. Pass the loader Prepare (or PrepareDataLoader) returned.");
        prepared.SkipNextEpochStart(batches);
        return loader;
    }

    /// <summary>
    /// Registers <paramref name="hook"/> to run in <see cref="SaveState(string?)"/> on every rank
    /// before the accelerator writes its files, with the prepared models and the folder being written,
    /// as HF's <c>register_save_state_pre_hook</c>. Files the hook writes there become part of the
    /// checkpoint (checksummed, renamed into place with it); write them on the main process only.
    /// Dispose the returned handle to remove the hook.
    /// </summary>
    public IDisposable RegisterSaveStateHook(Action<IReadOnlyList<nn.Module>, string> hook) => Register(_saveStateHooks, hook);

    /// <summary>
    /// Registers <paramref name="hook"/> to run in <see cref="LoadState(string?)"/> on every rank,
    /// with the prepared models and the checkpoint folder, once the checkpoint was checked and loaded
    /// (so it can read the files its save hook wrote and adjust the restored models). A checkpoint
    /// that is refused does not call it. Dispose the returned handle to remove the hook.
    /// </summary>
    public IDisposable RegisterLoadStateHook(Action<IReadOnlyList<nn.Module>, string> hook) => Register(_loadStateHooks, hook);

    /// <summary>
    /// Writes <paramref name="value"/> to <paramref name="path"/> on the main process only (the other
    /// ranks return at once), as HF's <c>save</c>, atomically: the file appears complete or not at all,
    /// flushed to the disk. A tensor is written with TorchSharp's <c>Tensor.Save</c> format; a module
    /// (its fp32 weights when prepared under mixed precision) or a dictionary of named tensors as a
    /// state dict, which <c>Module.load</c> reads; any other object as JSON (System.Text.Json).
    /// Returns whether this process wrote the file.
    /// </summary>
    public bool Save(object value, string path)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!IsMainProcess) return false;
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temporary = full + ".saving-" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            switch (value)
            {
                case Tensor tensor:
                    DurableFile.Write(temporary, stream =>
                    {
                        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                        tensor.Save(writer);
                    });
                    break;
                case nn.Module module:
                    StateDictFile.Write(temporary, GetStateDict(module));
                    break;
                case IDictionary<string, Tensor> state:
                    StateDictFile.Write(temporary, new Dictionary<string, Tensor>(state));
                    break;
                default:
                    DurableFile.WriteAllText(temporary, JsonSerializer.Serialize(value, value.GetType()));
                    break;
            }
            File.Move(temporary, full, overwrite: true);
            DurableFile.SyncDirectory(directory);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
        return true;
    }

    private void RunSaveStateHooks(string folder) => RunHooks(_saveStateHooks, folder);

    private void RunLoadStateHooks(string folder) => RunHooks(_loadStateHooks, folder);

    private void RunHooks(List<Action<IReadOnlyList<nn.Module>, string>> hooks, string folder)
    {
        if (hooks.Count == 0) return;
        var models = _models.Select(m => m.Module).ToList();
        foreach (var hook in hooks.ToList()) hook(models, folder);
    }

    private static IDisposable Register(List<Action<IReadOnlyList<nn.Module>, string>> hooks, Action<IReadOnlyList<nn.Module>, string> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        hooks.Add(hook);
        return new Scope(() => hooks.Remove(hook));
    }
}
