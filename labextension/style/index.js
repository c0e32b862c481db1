import './base.css';
import './addfiles.css';
