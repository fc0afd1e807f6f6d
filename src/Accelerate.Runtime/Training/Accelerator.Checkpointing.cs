using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    private const string CheckpointPrefix = "checkpoint_";
    private readonly List<ICheckpointable> _custom = new();
    private long _checkpointIteration;

    /// <summary>Adds objects whose state <see cref="SaveState"/> saves and <see cref="LoadState"/> restores.</summary>
    public void RegisterForCheckpointing(params object[] objects)
    {
        foreach (var item in objects)
        {
            if (item is not ICheckpointable checkpointable)
                throw new AccelerateException("ACC2211", $"{item?.GetType().FullName ?? "null"} cannot be checkpointed: implement Accelerate.ICheckpointable (SaveState/LoadState) on it, or save it yourself.");
            _custom.Add(checkpointable);
        }
    }

    /// <summary>The model's state for saving: fp32 master weights under mixed precision, and its buffers.</summary>
    public Dictionary<string, Tensor> GetStateDict(nn.Module model)
    {
        AfterOptimizerStep();
        var prepared = _models.FirstOrDefault(m => ReferenceEquals(m.Module, model));
        return prepared?.StateDict() ?? model.state_dict();
    }

    /// <summary>
    /// Writes the model weights alone (fp32 masters under mixed precision) to <c>model.bin</c> in
    /// <paramref name="directory"/>, in TorchSharp's format (<c>Module.load</c> reads it). Main process only.
    /// </summary>
    public string SaveModel(nn.Module model, string directory)
    {
        var path = Path.Combine(directory, "model.bin");
        var state = GetStateDict(model);
        if (IsMainProcess)
        {
            Directory.CreateDirectory(directory);
            StateDictFile.Write(path + ".tmp", state);
            File.Move(path + ".tmp", path, overwrite: true);
        }
        WaitForEveryone();
        return path;
    }

    /// <summary>
    /// Saves everything needed to resume: models, optimizers, schedulers, the fp16 loss scaler, every
    /// rank's RNG state, data-loader positions, the step and registered objects. The folder appears
    /// complete or not at all: it is written under a temporary name and renamed. With no
    /// <paramref name="directory"/> and <see cref="AcceleratorOptions.AutomaticCheckpointNaming"/>, it is
    /// <c>checkpoints/checkpoint_N</c> under the project directory, keeping at most
    /// <see cref="AcceleratorOptions.TotalLimit"/> of them. Returns the folder.
    /// </summary>
    public string SaveState(string? directory = null)
    {
        AfterOptimizerStep();
        var target = directory ?? AutomaticCheckpoint(_checkpointIteration);
        target = Path.GetFullPath(target);
        var token = IsMainProcess ? Guid.NewGuid().ToString("N")[..12] : "";
        if (Group is not null && UseDistributed) token = Group.BroadcastObject(token, 0);
        var staging = target + ".saving-" + token;
        if (IsMainProcess)
        {
            if (directory is null) Prune(reserve: 1);
            Directory.CreateDirectory(staging);
        }
        WaitForEveryone();

        File.WriteAllBytes(Path.Combine(staging, $"random_states_{ProcessIndex}.bin"), RngState());
        if (IsMainProcess)
        {
            for (var i = 0; i < _models.Count; i++)
                StateDictFile.Write(Path.Combine(staging, Indexed("model", i, ".bin")), _models[i].StateDict());
            for (var i = 0; i < _optimizers.Count; i++)
            {
                if (_optimizers[i] is not OptimizerHelper helper)
                    throw new AccelerateException("ACC2212", $"The optimizer {_optimizers[i].GetType().Name} has no managed state to save. Use one of TorchSharp's torch.optim optimizers.");
                using var stream = File.Create(Path.Combine(staging, Indexed("optimizer", i, ".bin")));
                using var writer = new BinaryWriter(stream);
                helper.save_state_dict(writer);
            }
            for (var i = 0; i < _schedulers.Count; i++)
                File.WriteAllText(Path.Combine(staging, Indexed("scheduler", i, ".json")), _schedulers[i].SaveState());
            if (LossScaler is not null)
                File.WriteAllText(Path.Combine(staging, "scaler.json"), JsonSerializer.Serialize(LossScaler.Capture()));
            for (var i = 0; i < _custom.Count; i++)
            {
                using var stream = File.Create(Path.Combine(staging, $"custom_checkpoint_{i}.bin"));
                _custom[i].SaveState(stream);
            }
            var progress = new TrainingProgressState(Step, _accumulationStep, _checkpointIteration + 1, NumProcesses,
                _loaders.Select(l => new LoaderPosition(l.Epoch, l.Position)).ToList());
            File.WriteAllText(Path.Combine(staging, "accelerator.json"), JsonSerializer.Serialize(progress));
        }
        WaitForEveryone();
        if (IsMainProcess)
        {
            var previous = target + ".replaced-" + token;
            if (Directory.Exists(target)) Directory.Move(target, previous);
            Directory.Move(staging, target);
            if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
        }
        _checkpointIteration++;
        WaitForEveryone();
        return target;
    }

    /// <summary>
    /// Restores what <see cref="SaveState"/> saved. With no <paramref name="directory"/> and automatic
    /// naming, loads the newest <c>checkpoint_N</c>. Prepared loaders continue from the saved batch.
    /// </summary>
    public string LoadState(string? directory = null)
    {
        var source = directory ?? NewestCheckpoint()
            ?? throw new AccelerateException("ACC2213", $"There is no checkpoint under {CheckpointsDirectory}. Save one with SaveState() first, or pass the folder to load.");
        source = Path.GetFullPath(source);
        var progressFile = Path.Combine(source, "accelerator.json");
        if (!File.Exists(progressFile))
            throw new AccelerateException("ACC2213", $"{source} is not a complete checkpoint (no accelerator.json). Pass a folder SaveState wrote.");
        var progress = JsonSerializer.Deserialize<TrainingProgressState>(File.ReadAllText(progressFile))!;

        for (var i = 0; i < _models.Count; i++)
        {
            var state = StateDictFile.Read(Path.Combine(source, Indexed("model", i, ".bin")));
            _models[i].LoadStateDict(state);
            foreach (var tensor in state.Values) tensor.Dispose();
        }
        for (var i = 0; i < _optimizers.Count; i++)
            if (_optimizers[i] is OptimizerHelper helper)
            {
                using var stream = File.OpenRead(Path.Combine(source, Indexed("optimizer", i, ".bin")));
                using var reader = new BinaryReader(stream);
                helper.load_state_dict(reader);
            }
        for (var i = 0; i < _schedulers.Count; i++)
            _schedulers[i].LoadState(File.ReadAllText(Path.Combine(source, Indexed("scheduler", i, ".json"))));
        var scalerFile = Path.Combine(source, "scaler.json");
        if (LossScaler is not null && File.Exists(scalerFile))
            LossScaler.Restore(JsonSerializer.Deserialize<DynamicLossScaler.ScalerState>(File.ReadAllText(scalerFile))!);
        for (var i = 0; i < _custom.Count; i++)
        {
            using var stream = File.OpenRead(Path.Combine(source, $"custom_checkpoint_{i}.bin"));
            _custom[i].LoadState(stream);
        }
        var rngFile = Path.Combine(source, $"random_states_{ProcessIndex}.bin");
        if (File.Exists(rngFile)) RestoreRng(File.ReadAllBytes(rngFile));

        Step = progress.Step;
        _accumulationStep = progress.AccumulationStep;
        _checkpointIteration = progress.CheckpointIteration;
        for (var i = 0; i < Math.Min(_loaders.Count, progress.Loaders.Count); i++)
        {
            var (epoch, position) = (progress.Loaders[i].Epoch, progress.Loaders[i].Position);
            if (position >= _loaders[i].StepsPerEpoch) (epoch, position) = (epoch + 1, 0);
            _loaders[i].Resume(epoch, position);
        }
        _computeStale = false;
        return source;
    }

    private string CheckpointsDirectory => Path.Combine(Options.ProjectDirectory ?? System.Environment.CurrentDirectory, "checkpoints");

    private string AutomaticCheckpoint(long iteration)
    {
        if (!Options.AutomaticCheckpointNaming)
            throw new AccelerateException("ACC2214", "SaveState() was called without a folder. Pass one, or set AutomaticCheckpointNaming = true (with a ProjectDirectory) to name checkpoints checkpoints/checkpoint_N.");
        return Path.Combine(CheckpointsDirectory, CheckpointPrefix + iteration);
    }

    private IReadOnlyList<(long number, string path)> Checkpoints()
    {
        if (!Directory.Exists(CheckpointsDirectory)) return Array.Empty<(long, string)>();
        return Directory.GetDirectories(CheckpointsDirectory)
            .Select(path => (match: Regex.Match(Path.GetFileName(path), "^" + CheckpointPrefix + "(\\d+)$"), path))
            .Where(x => x.match.Success)
            .Select(x => (long.Parse(x.match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), x.path))
            .OrderBy(x => x.Item1)
            .ToList();
    }

    private string? NewestCheckpoint() => Checkpoints().LastOrDefault().path;

    private void Prune(int reserve)
    {
        if (Options.TotalLimit is not { } limit) return;
        var existing = Checkpoints();
        var excess = existing.Count + reserve - limit;
        foreach (var (_, path) in existing.Take(Math.Max(0, excess))) Directory.Delete(path, recursive: true);
    }

    private static string Indexed(string name, int index, string extension) => index == 0 ? name + extension : $"{name}_{index}{extension}";

    private static byte[] RngState()
    {
        using var state = torch.get_rng_state();
        return state.bytes.ToArray();
    }

    private static void RestoreRng(byte[] bytes)
    {
        using var state = torch.tensor(bytes, dtype: ScalarType.Byte);
        torch.set_rng_state(state);
    }

    internal sealed record LoaderPosition(long Epoch, long Position);

    internal sealed record TrainingProgressState(long Step, int AccumulationStep, long CheckpointIteration, int WorldSize, List<LoaderPosition> Loaders);
}
