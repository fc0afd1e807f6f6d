using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// The loader <see cref="Accelerator.PrepareDataLoader{T, S}"/> returns: still a TorchSharp
/// <see cref="DataLoader{T, S}"/>, built on its sample-order overload, that reads this rank's share of
/// every epoch (<see cref="RankShardPlan"/>), moves batches to the device, converts floating-point
/// batch tensors to the compute precision, and tells the accelerator where the epoch stands.
/// </summary>
internal sealed class AcceleratedDataLoader<T, S> : DataLoader<T, S>, IPreparedLoader
{
    private readonly ShardDataset _shard;

    private AcceleratedDataLoader(ShardDataset shard, int batchSize, Func<IEnumerable<T>, Device, S> collate, Device device, int workers, bool dropLast, bool disposeBatch)
        : base(shard, batchSize, collate, shard.Order, device, workers, dropLast, disposeBatch, disposeDataset: true)
    {
        _shard = shard;
    }

    /// <summary>
    /// TorchSharp's <c>GetEnumerator</c> cannot be overridden, so the loader follows the epoch through
    /// the seams the base enumerator calls: the sample order (enumerated once per epoch) and the
    /// collate function (called once per batch, before the batch is handed out).
    /// </summary>
    public static AcceleratedDataLoader<T, S> Create(DataLoader<T, S> source, Accelerator accelerator, bool shuffle)
    {
        var options = accelerator.Options;
        var n = accelerator.NumProcesses;
        var batchSize = source.batch_size;
        if (options.SplitBatches)
        {
            if (batchSize % n != 0)
                throw new AccelerateException(RuntimeErrorCode.BatchNotDivisible, $"split_batches needs the batch size ({batchSize}) to divide by the number of processes ({n}). Choose a batch size that is a multiple of {n}, or turn SplitBatches off to give every rank whole batches.");
            batchSize /= n;
        }
        var shard = new ShardDataset(source.dataset, batchSize, accelerator.ProcessIndex, n, shuffle, options.DataSeed, options.EvenBatches, source.drop_last);
        var compute = accelerator.ComputeType;
        var collate = source.collate_fn;
        AcceleratedDataLoader<T, S>? loader = null;
        S Collate(IEnumerable<T> items, Device device)
        {
            accelerator.AtStepBoundary();
            shard.Position++;
            accelerator.OnBatch(loader!);
            var batch = collate(items, device);
            return compute is { } dtype ? BatchPrecision.Convert(batch, dtype) : batch;
        }
        var device = options.DevicePlacement ? accelerator.Device : source.Device;
        loader = new AcceleratedDataLoader<T, S>(shard, batchSize, Collate, device, source.num_workers, source.drop_last, source.DisposeBatch);
        shard.OnEpochStart = () => accelerator.OnEpochStart(loader);
        shard.BeforeEpoch = () => accelerator.Resume();
        return loader;
    }

    public long Epoch => _shard.Epoch;
    public long Position => _shard.Position;
    public long StepsPerEpoch => _shard.Plan.LocalBatches;
    public long Remainder => _shard.Plan.LastStepRemainder;
    public bool AtLastBatch => _shard.Position >= _shard.Plan.LocalBatches;

    public long DatasetSize => _shard.Plan.DatasetSize;
    public long BatchSamples => (long)_shard.Plan.BatchSize * _shard.Plan.WorldSize;

    /// <summary>A finished epoch counts every sample (those drop_last dropped too), so a resume starts the next one.</summary>
    public long ConsumedSamples => AtLastBatch ? _shard.Plan.DatasetSize : _shard.Plan.ConsumedAfter(_shard.Position);

    public void Resume(long epoch, long consumedSamples) => _shard.Seek(epoch, consumedSamples);

    /// <summary>Makes the next epoch start at batch <paramref name="batches"/> (<see cref="Accelerator.SkipFirstBatches{T, S}"/>).</summary>
    public void SkipNextEpochStart(long batches) => _shard.SkipNextEpochStart(batches);

    /// <summary>This rank's samples, renumbered 0..k-1 in reading order; the base loader reads them in order.</summary>
    private sealed class ShardDataset : torch.utils.data.Dataset<T>
    {
        private readonly torch.utils.data.Dataset<T> _source;
        private readonly int _batchSize, _rank, _worldSize;
        private readonly bool _shuffle, _even, _dropLast;
        private readonly long _seed;
        private long _startSample;

        public ShardDataset(torch.utils.data.Dataset<T> source, int batchSize, int rank, int worldSize, bool shuffle, long seed, bool even, bool dropLast)
        {
            (_source, _batchSize, _rank, _worldSize, _shuffle, _seed, _even, _dropLast) = (source, batchSize, rank, worldSize, shuffle, seed, even, dropLast);
            Plan = MakePlan(0);
            Order = new LocalOrder(this);
        }

        public long Epoch { get; private set; }
        public long Position { get; set; }
        public RankShardPlan Plan { get; private set; }
        public IEnumerable<long> Order { get; }
        public Action? OnEpochStart { get; set; }

        /// <summary>Called before an epoch's position is fixed: resuming a checkpoint moves it.</summary>
        public Action? BeforeEpoch { get; set; }
        public override long Count => Plan.LocalSamples;

        public override T GetTensor(long index) => _source.GetTensor(Plan.DatasetIndex(index));

        /// <summary>Called when the base enumerator starts (or restarts) an epoch.</summary>
        public long BeginEpoch()
        {
            BeforeEpoch?.Invoke();
            if (_started) Epoch++;
            _started = true;
            // A resumed epoch is planned from the first sample the checkpointed job had not consumed,
            // so it goes on in the same global order on any number of ranks.
            Plan = MakePlan(Epoch, _startSample);
            Position = 0;
            _startSample = 0;
            OnEpochStart?.Invoke();
            return 0;
        }

        /// <summary>The next epoch starts after the samples its first <paramref name="batches"/> batches of this rank would read.</summary>
        public void SkipNextEpochStart(long batches)
        {
            var whole = MakePlan(Epoch);
            _startSample = whole.ConsumedAfter(Math.Min(batches, whole.LocalBatches));
        }

        public void Seek(long epoch, long consumedSamples)
        {
            Epoch = epoch;
            _started = false;
            _startSample = consumedSamples;
            Plan = MakePlan(epoch, consumedSamples);
            Position = 0;
        }

        private bool _started;

        private RankShardPlan MakePlan(long epoch, long startSample = 0) => new(_source.Count, _batchSize, _rank, _worldSize, _shuffle, _seed, epoch, _even, _dropLast, startSample);

        protected override void Dispose(bool disposing)
        {
            if (disposing) _source.Dispose();
            base.Dispose(disposing);
        }

        private sealed class LocalOrder(ShardDataset owner) : IEnumerable<long>
        {
            public IEnumerator<long> GetEnumerator()
            {
                var start = owner.BeginEpoch();
                for (var i = start; i < owner.Plan.LocalSamples; i++) yield return i;
            }

            System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }
}
