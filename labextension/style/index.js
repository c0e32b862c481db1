import './base.css';
import './addfiles.css';
import './git.css';
import './visualization.css';
import './obs.css';
