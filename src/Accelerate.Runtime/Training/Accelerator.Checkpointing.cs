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
    private long _saves;

    /// <summary>Adds objects whose state <see cref="SaveState"/> saves and <see cref="LoadState"/> restores.</summary>
    public void RegisterForCheckpointing(params object[] objects)
    {
        foreach (var item in objects)
        {
            if (item is not ICheckpointable checkpointable)
                throw new AccelerateException(RuntimeErrorCode.NotCheckpointable, $"{item?.GetType().FullName ?? "null"} cannot be checkpointed: implement Accelerate.ICheckpointable (SaveState/LoadState) on it, or save it yourself.");
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
    /// Writes the model weights alone (fp32 masters under mixed precision, and the buffers) to
    /// <paramref name="directory"/> on the main process, as HF accelerate's <c>save_model</c> does:
    /// <c>model.safetensors</c>, which Python reads (<c>safetensors.torch.load_file</c>,
    /// <c>transformers</c>) and <see cref="LoadModel"/> reads back. Weights above
    /// <paramref name="maxShardSize"/> bytes (default 10 GB, as HF) are split into
    /// <c>model-00001-of-0000N.safetensors</c> files listed in <c>model.safetensors.index.json</c>.
    /// With <paramref name="safeSerialization"/> false it writes <c>model.bin</c> in TorchSharp's
    /// format (<c>Module.load</c> reads it) instead. Weights of an earlier save in the other layout are
    /// deleted once the new ones are on the disk. Returns the file written (the index when sharded).
    /// </summary>
    public string SaveModel(nn.Module model, string directory, long maxShardSize = 10_000_000_000, bool safeSerialization = true)
    {
        if (maxShardSize < 1)
            throw new AccelerateException(RuntimeErrorCode.BadShardSize, $"maxShardSize = {maxShardSize} cannot hold any tensor. Pass a size in bytes of 1 or more (HF's default is 10 GB).");
        var state = GetStateDict(model).ToList();
        var shards = new List<List<KeyValuePair<string, Tensor>>>();
        if (safeSerialization)
        {
            // As HF's split: a tensor starts a new shard when it would take the current one above the limit.
            long size = 0;
            foreach (var entry in state)
            {
                var bytes = SafeTensorsFile.SizeOf(entry.Value);
                if (shards.Count == 0 || (size + bytes > maxShardSize && shards[^1].Count > 0))
                {
                    shards.Add(new());
                    size = 0;
                }
                shards[^1].Add(entry);
                size += bytes;
            }
            if (shards.Count == 0) shards.Add(new());
        }
        var names = !safeSerialization ? new List<string> { "model.bin" }
            : shards.Count == 1 ? new List<string> { SafeTensorsFile.Single }
            : shards.Select((_, i) => SafeTensorsFile.ShardName(i + 1, shards.Count)).ToList();
        var written = Path.Combine(directory, shards.Count > 1 ? SafeTensorsFile.Index : names[0]);
        if (IsMainProcess)
        {
            Directory.CreateDirectory(directory);
            var files = new List<string>(names);
            for (var i = 0; i < names.Count; i++)
            {
                var temporary = Path.Combine(directory, names[i] + ".tmp");
                if (safeSerialization) SafeTensorsFile.Write(temporary, shards[i]);
                else StateDictFile.Write(temporary, state.ToDictionary());
            }
            if (shards.Count > 1)
            {
                // The index goes last: it names shards that are already complete.
                var index = new System.Text.Json.Nodes.JsonObject
                {
                    ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["total_size"] = state.Sum(e => SafeTensorsFile.SizeOf(e.Value)) },
                    ["weight_map"] = new System.Text.Json.Nodes.JsonObject(shards.SelectMany((shard, i) => shard.Select(e => KeyValuePair.Create(e.Key, (System.Text.Json.Nodes.JsonNode?)names[i])))),
                };
                DurableFile.WriteAllText(Path.Combine(directory, SafeTensorsFile.Index + ".tmp"), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                files.Add(SafeTensorsFile.Index);
            }
            foreach (var file in files) File.Move(Path.Combine(directory, file + ".tmp"), Path.Combine(directory, file), overwrite: true);
            DurableFile.SyncDirectory(directory);
            // Left by an earlier save in another layout, they would be read instead of (or mixed with) these weights.
            foreach (var stale in Directory.GetFiles(directory).Where(f => IsModelWeights(Path.GetFileName(f)) && !files.Contains(Path.GetFileName(f))))
                File.Delete(stale);
            DurableFile.SyncDirectory(directory);
        }
        WaitForEveryone();
        return written;
    }

    /// <summary>
    /// Loads weights <see cref="SaveModel"/> (or Python's <c>save_model</c>, <c>save_file</c>,
    /// <c>save_pretrained</c>) wrote into <paramref name="model"/>, prepared or not (into the fp32
    /// masters under mixed precision): <paramref name="path"/> is a folder holding
    /// <c>model.safetensors.index.json</c> and its shards, <c>model.safetensors</c> or an earlier
    /// save's <c>model.bin</c> (looked for in that order), or one such file. Every name and shape
    /// must match the model's (ACC2210); a damaged file is ACC2270 (safetensors), ACC2271 (index) or
    /// ACC2253 (<c>model.bin</c>), naming it. Returns the file read.
    /// </summary>
    public string LoadModel(nn.Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = Path.GetFullPath(path);
        if (Directory.Exists(file))
            file = new[] { SafeTensorsFile.Index, SafeTensorsFile.Single, "model.bin" }.Select(name => Path.Combine(file, name)).FirstOrDefault(File.Exists)
                ?? throw new AccelerateException(RuntimeErrorCode.NoWeights, $"{file} holds no model weights: none of {SafeTensorsFile.Index}, {SafeTensorsFile.Single} or model.bin is there. Pass the folder SaveModel wrote to, or the weights file itself.");
        else if (!File.Exists(file))
            throw new AccelerateException(RuntimeErrorCode.NoWeights, $"{file} does not exist. Pass the folder SaveModel wrote to, or the weights file itself.");
        var state = new Dictionary<string, Tensor>();
        try
        {
            if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                foreach (var shard in SafeTensorsFile.Shards(file))
                    foreach (var (name, tensor) in SafeTensorsFile.Read(shard)) state[name] = tensor;
            else if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) state = SafeTensorsFile.Read(file);
            else state = StateDictFile.Read(file);
            var prepared = _models.FirstOrDefault(m => ReferenceEquals(m.Module, model)) ?? PreparedModel.Bind(model, null);
            prepared.LoadStateDict(state);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
        return file;
    }

    private static bool IsModelWeights(string name) =>
        name is "model.bin" or SafeTensorsFile.Single or SafeTensorsFile.Index || Regex.IsMatch(name, @"^model-\d{5}-of-\d{5}\.safetensors$");

    /// <summary>
    /// Saves everything needed to resume: models, optimizers, schedulers, the fp16 loss scaler, every
    /// rank's RNG state, data-loader positions, the step and registered objects. The folder appears
    /// complete or not at all: it is written under a temporary name, every file and the folder are
    /// flushed to the disk, and only then is it renamed into place; a folder it replaces, and
    /// checkpoints beyond <see cref="AcceleratorOptions.TotalLimit"/>, are deleted only after that.
    /// With no <paramref name="directory"/> and <see cref="AcceleratorOptions.AutomaticCheckpointNaming"/>,
    /// it is <c>checkpoints/checkpoint_N</c> under the project directory, N following the highest
    /// existing one. Returns the folder.
    /// </summary>
    public string SaveState(string? directory = null)
    {
        Resume();
        AfterOptimizerStep();
        var save = ++_saves;
        if (directory is null && !Options.AutomaticCheckpointNaming && !_preempting)
            throw new AccelerateException(RuntimeErrorCode.NoCheckpointFolder, "SaveState() was called without a folder. Pass one, or set AutomaticCheckpointNaming = true (with a ProjectDirectory) to name checkpoints checkpoints/checkpoint_N.");
        // Rank 0 picks the name and the staging token; every rank must write into the same folder.
        var plan = IsMainProcess ? new SavePlan(Guid.NewGuid().ToString("N")[..12], directory is null ? NextCheckpointNumber() : -1) : null;
        if (Group is not null && UseDistributed) plan = Group.BroadcastObject(plan, 0);
        var target = Path.GetFullPath(directory ?? Path.Combine(CheckpointsDirectory, CheckpointPrefix + plan!.Number));
        var staging = target + CheckpointFolder.Staging + plan!.Token;
        // One copy in a shared folder, or (SaveOnEachNode) one per machine, written by its local main process.
        var writesCopy = Options.SaveOnEachNode ? IsLocalMainProcess : IsMainProcess;
        if (writesCopy) Directory.CreateDirectory(staging);
        WaitForEveryone();
        EnsureEveryRankSees(staging);
        if (Options.SaveOnEachNode) writesCopy = WritesOwnCopy(staging, writesCopy);
        SaveKillPoint.Reach("before-files", save);
        RunSaveStateHooks(staging);

        DurableFile.WriteAllBytes(Path.Combine(staging, $"random_states_{ProcessIndex}.bin"), RngState());
        SaveKillPoint.Reach("between-files", save);
        if (writesCopy)
        {
            for (var i = 0; i < _models.Count; i++)
                StateDictFile.Write(Path.Combine(staging, Indexed("model", i, ".bin")), _models[i].StateDict());
            for (var i = 0; i < _optimizers.Count; i++)
            {
                if (_optimizers[i] is not OptimizerHelper helper)
                    throw new AccelerateException(RuntimeErrorCode.OptimizerWithoutState, $"The optimizer {_optimizers[i].GetType().Name} has no managed state to save. Use one of TorchSharp's torch.optim optimizers.");
                DurableFile.Write(Path.Combine(staging, Indexed("optimizer", i, ".bin")), stream =>
                {
                    using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                    helper.save_state_dict(writer);
                });
            }
            for (var i = 0; i < _schedulers.Count; i++)
                DurableFile.WriteAllText(Path.Combine(staging, Indexed("scheduler", i, ".json")), _schedulers[i].SaveState());
            if (LossScaler is not null)
                DurableFile.WriteAllText(Path.Combine(staging, "scaler.json"), JsonSerializer.Serialize(LossScaler.Capture()));
            for (var i = 0; i < _custom.Count; i++)
                DurableFile.Write(Path.Combine(staging, $"custom_checkpoint_{i}.bin"), _custom[i].SaveState);
        }
        WaitForEveryone();
        if (writesCopy)
        {
            // accelerator.json goes last, once every rank's files are on the disk: it marks the folder complete.
            var iteration = Math.Max(_checkpointIteration, plan.Number) + 1;
            var progress = new TrainingProgressState(Step, _accumulationStep, iteration, NumProcesses,
                _loaders.Select(l => new LoaderPosition(l.Epoch, l.Position, l.ConsumedSamples)).ToList(), CheckpointFolder.Digests(staging));
            DurableFile.WriteAllText(Path.Combine(staging, CheckpointFolder.ProgressFile), JsonSerializer.Serialize(progress));
            DurableFile.SyncDirectory(staging);
            SaveKillPoint.Reach("before-rename", save);

            var previous = target + CheckpointFolder.Replaced + plan.Token;
            if (Directory.Exists(target))
            {
                DurableFile.MoveDirectory(target, previous);
                SaveKillPoint.Reach("between-renames", save);
            }
            DurableFile.MoveDirectory(staging, target);
            SaveKillPoint.Reach("before-delete", save);

            // The new checkpoint is durable: only now may older copies go.
            foreach (var leftover in CheckpointFolder.Siblings(target, CheckpointFolder.Staging).Concat(CheckpointFolder.Siblings(target, CheckpointFolder.Replaced)))
                Directory.Delete(leftover, recursive: true);
            if (directory is null) Prune(keep: target);
            DurableFile.SyncDirectory(Path.GetDirectoryName(target)!);
        }
        _checkpointIteration = Math.Max(_checkpointIteration, plan.Number) + 1;
        WaitForEveryone();
        return target;
    }

    /// <summary>
    /// Restores what <see cref="SaveState"/> saved. With no <paramref name="directory"/> and automatic
    /// naming, loads the newest <c>checkpoint_N</c>. Prepared loaders continue from the saved batch.
    /// Every file is checked (present, and the length and SHA-256 the save recorded) before anything
    /// is restored. The checkpoint may come from another number of processes: loaders go on from the
    /// samples of the epoch's global order the saving job consumed, and a rank the saving job did not
    /// have keeps its own RNG state. Returns the folder read.
    /// </summary>
    public string LoadState(string? directory = null)
    {
        _resumeDone = true;
        var newest = directory is null ? NewestCheckpoint() : null;
        // Every rank loads rank 0's newest, so that one on a machine without it fails with the others (ACC2292).
        if (directory is null && Group is not null && UseDistributed) newest = Group.BroadcastObject(newest, 0);
        var requested = directory is not null ? Path.GetFullPath(directory) : newest
            ?? throw new AccelerateException(RuntimeErrorCode.NoCheckpoint, $"There is no checkpoint under {CheckpointsDirectory}. Save one with SaveState() first, or pass the folder to load.");
        EnsureEveryRankHas(requested);
        var folder = CheckpointFolder.Open(requested);
        var progress = folder.Progress;
        // Where every loader goes on, in samples of its epoch's global order: the same on any number of processes.
        var resumeAt = new List<(long epoch, long samples)>();
        for (var i = 0; i < Math.Min(_loaders.Count, progress.Loaders.Count); i++)
        {
            var saved = progress.Loaders[i];
            long samples;
            if (saved.Samples is { } consumed) samples = consumed;
            else if (progress.WorldSize == NumProcesses || Options.SplitBatches) samples = saved.Position * _loaders[i].BatchSamples;
            else
                throw new AccelerateException(RuntimeErrorCode.CheckpointWithoutGlobalPosition, $"{folder.Path} was saved by {progress.WorldSize} processes with per-rank batches, by a version that recorded each rank's batch and not the samples the job had consumed, so it cannot be resumed on {NumProcesses} processes. Resume it once with {progress.WorldSize} processes and save again (SaveState): that checkpoint resumes on any number of processes.");
            resumeAt.Add(samples >= _loaders[i].DatasetSize ? (saved.Epoch + 1, 0) : (saved.Epoch, samples));
        }

        // Check everything before restoring anything, so that a bad checkpoint leaves the run as it was.
        var models = Enumerable.Range(0, _models.Count).Select(i => folder.Require(Indexed("model", i, ".bin"))).ToList();
        var optimizers = Enumerable.Range(0, _optimizers.Count).Select(i => folder.Require(Indexed("optimizer", i, ".bin"))).ToList();
        var schedulers = Enumerable.Range(0, _schedulers.Count).Select(i => folder.Require(Indexed("scheduler", i, ".json"))).ToList();
        var scaler = LossScaler is not null && File.Exists(Path.Combine(folder.Path, "scaler.json")) ? folder.Require("scaler.json") : null;
        var custom = Enumerable.Range(0, _custom.Count).Select(i => folder.Require($"custom_checkpoint_{i}.bin")).ToList();
        // A rank beyond the saving job's (resuming split batches on more processes) keeps its own RNG.
        var rng = ProcessIndex < progress.WorldSize ? folder.Require($"random_states_{ProcessIndex}.bin") : null;
        var states = new List<Dictionary<string, Tensor>>();
        try
        {
            foreach (var file in models) states.Add(StateDictFile.Read(file));
            for (var i = 0; i < _models.Count; i++) _models[i].LoadStateDict(states[i]);
        }
        finally
        {
            foreach (var tensor in states.SelectMany(s => s.Values)) tensor.Dispose();
        }
        for (var i = 0; i < _optimizers.Count; i++)
            if (_optimizers[i] is OptimizerHelper helper)
                Parse(optimizers[i], () =>
                {
                    using var stream = File.OpenRead(optimizers[i]);
                    using var reader = new BinaryReader(stream);
                    helper.load_state_dict(reader);
                });
        for (var i = 0; i < _schedulers.Count; i++)
            Parse(schedulers[i], () => _schedulers[i].LoadState(File.ReadAllText(schedulers[i])));
        if (scaler is not null)
            Parse(scaler, () => LossScaler!.Restore(JsonSerializer.Deserialize<DynamicLossScaler.ScalerState>(File.ReadAllText(scaler)) ?? throw new JsonException("null instead of the scaler's state")));
        for (var i = 0; i < _custom.Count; i++)
            Parse(custom[i], () =>
            {
                using var stream = File.OpenRead(custom[i]);
                _custom[i].LoadState(stream);
            });
        if (rng is not null) Parse(rng, () => RestoreRng(File.ReadAllBytes(rng)));

        Step = progress.Step;
        _accumulationStep = progress.AccumulationStep;
        _checkpointIteration = progress.CheckpointIteration;
        for (var i = 0; i < resumeAt.Count; i++) _loaders[i].Resume(resumeAt[i].epoch, resumeAt[i].samples);
        RunLoadStateHooks(folder.Path);
        return folder.Path;
    }

    /// <summary>
    /// Every rank writes its RNG state into the folder the main process (or, with SaveOnEachNode, its
    /// machine's local main process) created: a rank that cannot see it is on a machine that does not
    /// share the checkpoint folder. All ranks learn it together (one all-reduce), so none is left
    /// waiting in a collective, and fail with ACC2291 before anything is written.
    /// </summary>
    private void EnsureEveryRankSees(string staging)
    {
        var blind = Directory.Exists(staging) ? 0 : 1;
        if (UseDistributed && Group is not null)
        {
            Span<int> count = [blind];
            Group.AllReduce(count, Distributed.ReduceOp.Sum);
            blind = count[0];
        }
        if (blind == 0) return;
        var where = Path.GetDirectoryName(staging);
        throw new AccelerateException(RuntimeErrorCode.CheckpointFolderNotShared, Options.SaveOnEachNode
            ? $"{blind} process(es) cannot see the checkpoint folder their machine's local main process created under {where}. Give the processes of one machine the same folder (the same ProjectDirectory, on a local disk)."
            : $"{blind} process(es) cannot see the checkpoint folder the main process created under {where}: their machines do not share it. Put the checkpoints on a file system every machine mounts, or set AcceleratorOptions.SaveOnEachNode = true (save_on_each_node) to write a copy on each machine.");
    }

    /// <summary>
    /// With SaveOnEachNode, whether this local main process writes its machine's copy: not when the
    /// folder turns out to be shared with another machine (each leaves a marker in it), where two
    /// writers would rename the same folder at once; the main process's copy serves every machine then.
    /// </summary>
    private bool WritesOwnCopy(string staging, bool localMain)
    {
        var marker = Path.Combine(staging, NodeMarker + Environment.NodeRank);
        if (localMain) File.WriteAllBytes(marker, []);
        WaitForEveryone();
        var shared = localMain && Directory.GetFiles(staging, NodeMarker + "*").Any(f => f != marker);
        WaitForEveryone();
        if (localMain && (!shared || IsMainProcess))
            foreach (var file in Directory.GetFiles(staging, NodeMarker + "*")) File.Delete(file);
        return localMain && (!shared || IsMainProcess);
    }

    private const string NodeMarker = ".machine-";

    /// <summary>
    /// Every rank reads its own RNG state and (SaveOnEachNode) its machine's copy: a rank on a machine
    /// where the checkpoint is missing or incomplete would otherwise fail alone, or start afresh while
    /// the others resume. All ranks learn it together and fail with ACC2292 before anything is restored.
    /// </summary>
    private void EnsureEveryRankHas(string requested)
    {
        if (!UseDistributed || Group is null) return;
        var complete = File.Exists(Path.Combine(requested, CheckpointFolder.ProgressFile))
            || CheckpointFolder.Siblings(requested, CheckpointFolder.Staging).Concat(CheckpointFolder.Siblings(requested, CheckpointFolder.Replaced))
                .Any(f => File.Exists(Path.Combine(f, CheckpointFolder.ProgressFile)));
        Span<int> missing = [complete ? 0 : 1];
        Group.AllReduce(missing, Distributed.ReduceOp.Sum);
        if (missing[0] == 0) return;
        throw new AccelerateException(RuntimeErrorCode.CheckpointMissingOnThisMachine, Options.SaveOnEachNode
            ? $"{missing[0]} process(es) find no complete checkpoint at {requested} on their machine: with SaveOnEachNode every machine reads its own copy, and theirs lacks it (a machine that did not run the saving job, or a copy deleted). Resume on the machines that saved it, or copy the checkpoint folder to the others."
            : $"{missing[0]} process(es) find no complete checkpoint at {requested}: their machines do not see the folder the main process saved. Put the checkpoints on a file system every machine mounts, or save with AcceleratorOptions.SaveOnEachNode = true (save_on_each_node) so that every machine holds a copy.");
    }

    /// <summary>The checkpoint <see cref="AcceleratorOptions.ResumeFromCheckpoint"/> loaded, or null (not yet, or nothing to load).</summary>
    public string? ResumedFrom { get; private set; }

    /// <summary>
    /// Loads the checkpoint <see cref="AcceleratorOptions.ResumeFromCheckpoint"/> (or
    /// <c>ACCELERATE_RESUME_FROM_CHECKPOINT</c>) names, once; returns the folder, or null when there is
    /// nothing to load. It runs by itself when training starts — the first batch of a prepared data
    /// loader, the first <see cref="Backward"/> or the first <see cref="SaveState"/>, whichever comes
    /// first — so that everything prepared and registered before the loop is restored, however many
    /// <c>Prepare</c> calls it took (HF's Trainer likewise loads <c>resume_from_checkpoint</c> when
    /// <c>train()</c> starts). Call it before the loop to read <see cref="Step"/> or registered state
    /// (e.g. the epoch to start from) earlier. An explicit <see cref="LoadState"/> replaces it.
    /// </summary>
    public string? Resume()
    {
        if (_resumeDone) return ResumedFrom;
        _resumeDone = true;
        var requested = Options.ResumeFromCheckpoint ?? System.Environment.GetEnvironmentVariable("ACCELERATE_RESUME_FROM_CHECKPOINT");
        if (string.IsNullOrWhiteSpace(requested)) return null;
        // Every rank lists the same folder and none saves before it has resumed, so all pick the same one.
        var folder = requested.Trim().Equals("latest", StringComparison.OrdinalIgnoreCase) ? NewestCheckpoint() : requested;
        // Rank 0's choice: a machine that does not see rank 0's checkpoints must not start afresh alone (LoadState then says why).
        if (Group is not null && UseDistributed) folder = Group.BroadcastObject(folder, 0);
        if (folder is null) return null;
        if (!Directory.Exists(folder))
            throw new AccelerateException(RuntimeErrorCode.ResumeFolderMissing, $"ResumeFromCheckpoint (ACCELERATE_RESUME_FROM_CHECKPOINT) names {Path.GetFullPath(folder)}, which does not exist. Pass the folder of a checkpoint SaveState wrote, or \"latest\" to resume from the newest one under the project directory when there is one.");
        return ResumedFrom = LoadState(folder);
    }

    private bool _resumeDone;

    /// <summary>Refuses checkpoint settings that would lose checkpoints (called by the constructor).</summary>
    private static void ValidateCheckpointOptions(AcceleratorOptions options)
    {
        if (options.TotalLimit is < 1)
            throw new AccelerateException(RuntimeErrorCode.BadTotalLimit, $"TotalLimit = {options.TotalLimit} would delete every checkpoint. Set it to 1 or more (the number of checkpoint_N folders to keep), or leave it null to keep them all.");
    }

    /// <summary>Runs a parser on a checked file; what it still finds wrong (a file from an older save without digests) is ACC2253.</summary>
    private static void Parse(string file, Action parse)
    {
        try
        {
            parse();
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or JsonException or FormatException or OverflowException or System.Runtime.InteropServices.ExternalException)
        {
            throw CheckpointFolder.Damaged(file, "it could not be read back (" + e.Message + ")", e);
        }
    }

    private string CheckpointsDirectory => Path.Combine(Options.ProjectDirectory ?? System.Environment.CurrentDirectory, "checkpoints");

    /// <summary>The number after this run's last save and after every checkpoint already on the disk, so a restarted run never overwrites one.</summary>
    private long NextCheckpointNumber() => Math.Max(_checkpointIteration, Checkpoints() is [.., var (highest, _)] ? highest + 1 : 0);

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

    /// <summary>
    /// Deletes what interrupted saves left under checkpoints/ and the oldest checkpoints beyond
    /// TotalLimit, never <paramref name="keep"/> (the one just saved).
    /// </summary>
    private void Prune(string keep)
    {
        foreach (var leftover in Directory.GetDirectories(CheckpointsDirectory, CheckpointPrefix + "*")
                     .Where(path => Regex.IsMatch(Path.GetFileName(path), "^" + CheckpointPrefix + "\\d+(" + Regex.Escape(CheckpointFolder.Staging) + "|" + Regex.Escape(CheckpointFolder.Replaced) + ")")))
            Directory.Delete(leftover, recursive: true);
        if (Options.TotalLimit is not { } limit) return;
        var older = Checkpoints().Where(c => c.path != keep).ToList();
        foreach (var (_, path) in older.Take(Math.Max(0, older.Count + 1 - limit))) Directory.Delete(path, recursive: true);
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

    /// <summary>
    /// A loader's place: <paramref name="Position"/> is this job's batch per rank (informative),
    /// <paramref name="Samples"/> the samples of the epoch's global order consumed, which any number
    /// of processes resumes from (null in checkpoints written before it was recorded).
    /// </summary>
    internal sealed record LoaderPosition(long Epoch, long Position, long? Samples = null);

    /// <summary>What accelerator.json holds; <paramref name="Files"/> lists every other file of the folder.</summary>
    internal sealed record TrainingProgressState(long Step, int AccumulationStep, long CheckpointIteration, int WorldSize, List<LoaderPosition> Loaders, Dictionary<string, FileDigest>? Files = null);

    internal sealed record FileDigest(long Length, string Sha256);

    /// <summary>What rank 0 decides for a save and broadcasts: the staging token and, with automatic naming, N.</summary>
    internal sealed record SavePlan(string Token, long Number);
}
