namespace Accelerate;

/// <summary>
/// An object whose state <see cref="Accelerator.SaveState"/> saves and <see cref="Accelerator.LoadState"/>
/// restores once registered with <see cref="Accelerator.RegisterForCheckpointing"/> (HF's
/// <c>state_dict</c>/<c>load_state_dict</c> pair).
/// </summary>
public interface ICheckpointable
{
    /// <summary>Writes the object's state.</summary>
    void SaveState(Stream stream);

    /// <summary>Restores the state <see cref="SaveState"/> wrote.</summary>
    void LoadState(Stream stream);
}
