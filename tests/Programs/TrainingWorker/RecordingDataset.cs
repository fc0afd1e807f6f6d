using TorchSharp;

namespace Accelerate.TrainingWorker;

/// <summary>Passes a dataset through and notes every sample index read, so a run can report which samples each batch held.</summary>
public sealed class RecordingDataset<T>(torch.utils.data.Dataset<T> source) : torch.utils.data.Dataset<T>
{
    private readonly List<long> _read = new();

    public override long Count => source.Count;

    public override T GetTensor(long index)
    {
        lock (_read) _read.Add(index);
        return source.GetTensor(index);
    }

    /// <summary>The indices read since the last call (one batch, when called after each batch).</summary>
    public long[] Take()
    {
        lock (_read)
        {
            var read = _read.ToArray();
            _read.Clear();
            return read;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) source.Dispose();
        base.Dispose(disposing);
    }
}
